/**
 * A small async queue: `put()` from anywhere, `for await` on the other side, `close()` to end.
 * Holds at most `limit` messages: a member who does not read loses the oldest ones, so one slow
 * reader never grows the room's memory.
 *
 * @module
 */

/** A bounded async queue of `T`. */
export class Mailbox<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #limit: number;

  /** A mailbox keeping at most `limit` unread messages. */
  constructor(limit = 100) {
    this.#limit = limit;
  }

  /** Adds `item` (dropping the oldest unread one when full). Ignored once closed. */
  put(item: T): void {
    if (this.#closed) return;
    if (this.#items.length >= this.#limit) this.#items.shift();
    this.#items.push(item);
    this.#wake?.();
  }

  /** Ends the iteration once what is queued has been read. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** Yields messages as they come, until closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.#items.length > 0) yield this.#items.shift()!;
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }
}
