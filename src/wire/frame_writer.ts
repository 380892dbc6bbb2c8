/**
 * Encodes frames into one growing output buffer, so every frame produced in a tick leaves in
 * one write.
 *
 * @module
 */
import { MAGIC } from "./frame.ts";
import { encodeExtra, type MetaFields, metaSize, writeMeta } from "./meta.ts";

/**
 * A message serialized on demand: `writeTo` puts its `length` bytes straight into a frame, so an
 * encoded message is not first copied into a buffer of its own.
 */
export interface EncodedPayload {
  readonly length: number;
  writeTo(buf: Uint8Array, pos: number): void;
}

/** A frame's payload: bytes, or a message that writes itself. */
export type Payload = Uint8Array | EncodedPayload;

/** The bytes of a payload (allocates for an {@linkcode EncodedPayload}). */
export function payloadBytes(payload: Payload): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  const out = new Uint8Array(payload.length);
  payload.writeTo(out, 0);
  return out;
}

const INITIAL = 4 * 1024;
/** Output buffers larger than this are not kept for reuse after a big message. */
const KEEP_LIMIT = 1024 * 1024;

/**
 * Appends frames to an output buffer; `take()` hands the bytes to the writer and switches to a
 * spare buffer so frames can keep coming while a write is in flight.
 *
 * @example
 * ```ts
 * import { FrameWriter } from "./frame_writer.ts";
 * const w = new FrameWriter();
 * w.writeFrame({ kind: 3, callId: 1 });
 * const bytes = w.take();
 * if (bytes.length !== 12 + 4) throw new Error(String(bytes.length));
 * ```
 */
export class FrameWriter {
  #buf: Uint8Array = new Uint8Array(INITIAL);
  #spare: Uint8Array | undefined;
  #len = 0;

  /** Bytes waiting to be taken. */
  get length(): number {
    return this.#len;
  }

  /**
   * Appends one frame, unless its body (meta + payload) is over `maxBodyBytes`: then nothing is
   * written and it returns false.
   */
  writeFrame(f: MetaFields, payload?: Payload, maxBodyBytes = Infinity): boolean {
    const extra = f.errorMessage || f.metadata ? encodeExtra(f) : undefined;
    const metaLen = metaSize(f, extra);
    const payloadLen = payload === undefined ? 0 : payload.length;
    const bodyLen = metaLen + payloadLen;
    if (bodyLen > maxBodyBytes) return false;
    const need = this.#len + 12 + bodyLen;
    if (need > this.#buf.length) this.#grow(need);
    const b = this.#buf;
    let p = this.#len;
    b[p++] = MAGIC >>> 24;
    b[p++] = (MAGIC >>> 16) & 0xff;
    b[p++] = (MAGIC >>> 8) & 0xff;
    b[p++] = MAGIC & 0xff;
    b[p++] = bodyLen >>> 24;
    b[p++] = (bodyLen >>> 16) & 0xff;
    b[p++] = (bodyLen >>> 8) & 0xff;
    b[p++] = bodyLen & 0xff;
    b[p++] = metaLen >>> 24;
    b[p++] = (metaLen >>> 16) & 0xff;
    b[p++] = (metaLen >>> 8) & 0xff;
    b[p++] = metaLen & 0xff;
    p = writeMeta(b, p, f, extra);
    if (payload !== undefined && payloadLen > 0) {
      if (payload instanceof Uint8Array) b.set(payload, p);
      else payload.writeTo(b, p);
      p += payloadLen;
    }
    this.#len = p;
    return true;
  }

  /**
   * Returns the bytes written so far and starts a new buffer. Pass the returned array to
   * {@linkcode FrameWriter.release} once it has been written, so it can be reused.
   */
  take(): Uint8Array {
    const out = this.#buf.subarray(0, this.#len);
    this.#buf = this.#spare ?? new Uint8Array(INITIAL);
    this.#spare = undefined;
    this.#len = 0;
    return out;
  }

  /** Gives back a buffer from {@linkcode FrameWriter.take} for reuse. */
  release(taken: Uint8Array): void {
    const whole = new Uint8Array(taken.buffer, taken.byteOffset, taken.buffer.byteLength);
    if (whole.length <= KEEP_LIMIT && this.#spare === undefined) this.#spare = whole;
  }

  #grow(need: number): void {
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }
}
