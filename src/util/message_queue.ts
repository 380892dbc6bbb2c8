/**
 * The receiving end of a stream: messages queued as they arrive, taken by one `for await`
 * consumer, ended by the sender (done) or by an error (thrown after the messages queued before
 * it).
 *
 * @module
 */

/** Options of {@linkcode MessageQueue}. */
export interface MessageQueueOptions {
  /** Called as the consumer takes a message, with the cost it was queued with. */
  onTake?: (cost: number) => void;
  /** Called once when the consumer stops early (`break`, `return()`) before the queue ended. */
  onReturn?: () => void;
}

/**
 * A single-consumer async queue.
 *
 * @example
 * ```ts
 * import { MessageQueue } from "./message_queue.ts";
 * const q = new MessageQueue<number>();
 * q.push(1, 0);
 * q.push(2, 0);
 * q.end(new Error("boom"));
 * const seen: number[] = [];
 * try {
 *   for await (const n of q) seen.push(n);
 *   throw new Error("not thrown");
 * } catch (e) {
 *   if ((e as Error).message !== "boom" || seen.join() !== "1,2") throw e;
 * }
 * ```
 */
export class MessageQueue<T> implements AsyncIterable<T>, AsyncIterator<T> {
  #items: T[] = [];
  #costs: number[] = [];
  #head = 0;
  #ended = false;
  #error: unknown;
  #hasError = false;
  #waiter: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #iterated = false;
  #onTake: ((cost: number) => void) | undefined;
  #onReturn: (() => void) | undefined;

  /** An empty queue. */
  constructor(options: MessageQueueOptions = {}) {
    this.#onTake = options.onTake;
    this.#onReturn = options.onReturn;
  }

  /** Messages queued and not taken yet. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** True once {@linkcode MessageQueue.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Queues `value` (of credit `cost`), or hands it to a waiting consumer. Ignored once ended. */
  push(value: T, cost: number): void {
    if (this.#ended) return;
    const w = this.#waiter;
    if (w !== undefined) {
      this.#waiter = undefined;
      this.#onTake?.(cost);
      w.resolve({ value, done: false });
      return;
    }
    this.#items.push(value);
    this.#costs.push(cost);
  }

  /**
   * Ends the queue: the consumer takes what is queued, then finishes, or throws `error` when
   * given. Idempotent (the first end wins).
   */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) {
      this.#error = error;
      this.#hasError = true;
    }
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w === undefined) return;
    if (this.#hasError) w.reject(this.#error);
    else w.resolve({ value: undefined, done: true });
  }

  /** Drops what is queued (after the consumer went away). */
  clear(): void {
    this.#items = [];
    this.#costs = [];
    this.#head = 0;
  }

  /** The next message. */
  next(): Promise<IteratorResult<T>> {
    if (this.#head < this.#items.length) {
      const value = this.#items[this.#head]!;
      const cost = this.#costs[this.#head]!;
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items = [];
        this.#costs = [];
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#costs = this.#costs.slice(this.#head);
        this.#head = 0;
      }
      this.#onTake?.(cost);
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) {
      if (this.#hasError) return Promise.reject(this.#error);
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiter !== undefined) {
      return Promise.reject(new TypeError("next() called again before the previous one settled"));
    }
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  /** The consumer stops early: tells the owner (once) and drops what is queued. */
  return(): Promise<IteratorResult<T>> {
    if (!this.#ended) {
      this.#ended = true;
      this.#onReturn?.();
    }
    this.clear();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The queue itself; it can be iterated once. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterated) throw new TypeError("a stream can be iterated only once");
    this.#iterated = true;
    return this;
  }
}
