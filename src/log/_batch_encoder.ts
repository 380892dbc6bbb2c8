/**
 * Encodes log batches into transferable buffers for {@linkcode AsyncLogger}, reusing the
 * buffers the writer Worker hands back. Internal.
 *
 * @module
 */

const MIN_BUFFER = 64 * 1024;
const MAX_SPARE_BUFFER = 16 * 1024 * 1024;
const encoder = new TextEncoder();

/**
 * UTF-8 encoder into a small pool of ArrayBuffers: each batch is encoded with
 * `TextEncoder.encodeInto` into one buffer (grown when the text is not ASCII), which is then
 * transferred to the Worker and comes back with its acknowledgement.
 *
 * @example
 * ```ts
 * import { BatchEncoder } from "./_batch_encoder.ts";
 * const enc = new BatchEncoder(2);
 * const { buffer, length } = enc.encode("héllo\n"); // length 7
 * enc.recycle(buffer); // reused by the next encode()
 * ```
 */
export class BatchEncoder {
  #spare: ArrayBuffer[] = [];
  #keep: number;

  /** Creates an encoder that keeps up to `keep` returned buffers for reuse. */
  constructor(keep: number) {
    this.#keep = keep;
  }

  /** Encodes `text` into one buffer; the bytes are `new Uint8Array(buffer, 0, length)`. */
  encode(text: string): { buffer: ArrayBuffer; length: number } {
    const estimate = text.length + 16; // exact for ASCII
    let buffer = this.#spare.pop();
    if (buffer === undefined || buffer.byteLength < estimate) {
      buffer = new ArrayBuffer(Math.max(MIN_BUFFER, estimate + (estimate >> 2)));
    }
    const bytes = new Uint8Array(buffer);
    const first = encoder.encodeInto(text, bytes);
    let written = first.written;
    if (first.read < text.length) {
      // Non-ASCII text: grow to the worst case (3 bytes per UTF-16 unit left) and finish.
      const grown = new Uint8Array(written + (text.length - first.read) * 3);
      grown.set(bytes.subarray(0, written));
      written += encoder.encodeInto(text.slice(first.read), grown.subarray(written)).written;
      buffer = grown.buffer;
    }
    return { buffer, length: written };
  }

  /** Offers a buffer back for reuse (kept unless the pool is full or the buffer is huge). */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength <= MAX_SPARE_BUFFER && this.#spare.length < this.#keep) {
      this.#spare.push(buffer);
    }
  }

  /** Drops the pooled buffers. */
  clear(): void {
    this.#spare = [];
  }
}
