/**
 * The main-thread queue of {@linkcode AsyncLogger}: formatted lines waiting to be sent to the
 * writer Worker, each with the path of its file. Internal.
 *
 * @module
 */

/** A run of consecutive queued lines for one file, joined with "\n" (and one after the last). */
export interface LineBatch {
  path: string;
  text: string;
  count: number;
  /** Sequence number of the batch's last line. */
  lastSeq: number;
}

/**
 * FIFO of lines with consecutive sequence numbers (1, 2, ...): lines leave only from the front
 * (sent or dropped), so the live lines are always numbered `headSeq .. seq`.
 *
 * @example
 * ```ts
 * import { LineQueue } from "./_line_queue.ts";
 * const q = new LineQueue();
 * q.push("a", "/logs/1.txt");
 * q.push("b", "/logs/2.txt");
 * q.take(100, 1 << 20); // { path: "/logs/1.txt", text: "a\n", count: 1, lastSeq: 1 }
 * ```
 */
export class LineQueue {
  #lines: string[] = [];
  #paths: string[] = [];
  #head = 0;
  #seq = 0;

  /** Lines queued. */
  get size(): number {
    return this.#lines.length - this.#head;
  }

  /** Sequence number of the newest line ever pushed (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** Appends a line (without "\n") for the file at `path`. */
  push(line: string, path: string): void {
    this.#lines.push(line);
    this.#paths.push(path);
    this.#seq++;
  }

  /** Discards the oldest queued line; false if the queue is empty. */
  dropOldest(): boolean {
    if (this.size === 0) return false;
    this.#lines[this.#head] = "";
    this.#head++;
    this.#compact();
    return true;
  }

  /**
   * Removes and returns the oldest lines that share the first line's file: at most `maxLines`,
   * and no more once the text reaches `maxChars`. Undefined if the queue is empty.
   */
  take(maxLines: number, maxChars: number): LineBatch | undefined {
    if (this.size === 0) return undefined;
    const lines = this.#lines;
    const paths = this.#paths;
    const start = this.#head;
    const path = paths[start]!;
    const limit = Math.min(lines.length, start + maxLines);
    let text = "";
    let end = start;
    while (end < limit && paths[end] === path && text.length < maxChars) {
      text += lines[end]! + "\n";
      end++;
    }
    this.#head = end;
    const lastSeq = this.#seq - (lines.length - end);
    this.#compact();
    return { path, text, count: end - start, lastSeq };
  }

  /** Discards every queued line; returns how many there were. */
  clear(): number {
    const n = this.size;
    this.#lines = [];
    this.#paths = [];
    this.#head = 0;
    return n;
  }

  /** Releases the consumed front of the arrays, in amortized O(1) per line. */
  #compact(): void {
    const head = this.#head;
    if (head === this.#lines.length) {
      this.#lines.length = 0;
      this.#paths.length = 0;
      this.#head = 0;
    } else if (head >= 4096 && head * 2 >= this.#lines.length) {
      this.#lines = this.#lines.slice(head);
      this.#paths = this.#paths.slice(head);
      this.#head = 0;
    }
  }
}
