/**
 * Framing of the native protocol: a 12-byte header, then an `RpcMeta`, then the payload.
 *
 * ```
 * offset  size  field
 *  0      4     magic "MRPC" (0x4D 0x52 0x50 0x43)
 *  4      4     body length, uint32 big-endian = meta length + payload length
 *  8      4     meta length, uint32 big-endian
 * 12      m     RpcMeta (protobuf, proto/rpc_meta.proto)
 * 12+m    b-m   payload (the serialized request or response message)
 * ```
 *
 * Read as the original C++ mprpc's little-endian header size, "MRPC" would be 1,129,337,421
 * bytes, so the two protocols can be told apart by their first four bytes on one port.
 *
 * @module
 */
import { decodeMeta, emptyMeta, Kind, MetaError, type RpcMeta } from "./meta.ts";

/** The four magic bytes, "MRPC", read as a big-endian uint32. */
export const MAGIC = 0x4d525043;
/** Bytes before the meta. */
export const HEADER_SIZE = 12;
/**
 * Default limit on a frame's body (meta + payload): 4 MiB, as gRPC.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_MESSAGE_BYTES } from "./frame.ts";
 * if (DEFAULT_MAX_MESSAGE_BYTES !== 4 * 1024 * 1024) throw new Error();
 * ```
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Largest call id: `call_id` is a `uint32`. The call id of a REQUEST, RESPONSE or CANCEL is in
 * 1..MAX_CALL_ID (a frame with call id 0 or a longer varint is a protocol error); PING, PONG and
 * GOAWAY may carry 0.
 */
export const MAX_CALL_ID = 0xffffffff;

/** Why a byte stream was rejected. */
export type FrameErrorReason = "BAD_MAGIC" | "TOO_LARGE" | "BAD_LENGTH" | "BAD_META";

/** A stream that is not a valid sequence of frames; the connection must be closed. */
export class FrameError extends Error {
  /** What was wrong. */
  readonly reason: FrameErrorReason;
  constructor(reason: FrameErrorReason, message: string) {
    super(message);
    this.name = "FrameError";
    this.reason = reason;
  }
}

/**
 * Receives each complete frame. `payload` (and the meta's backing bytes) may be a view into the
 * connection's read buffer (`owned` false): it is valid only until the callback returns, unless
 * the consumer asks the connection to retain the buffer. With the decoder's `reuseMeta`, `meta`
 * itself is valid only until the callback returns (its `metadata` record is the frame's own).
 */
export type FrameCallback = (meta: RpcMeta, payload: Uint8Array, owned: boolean) => void;

/**
 * Receives the meta of a frame whose body (`bodyLength` bytes) is over the limit; its payload is
 * skipped without being buffered. Throw a {@linkcode FrameError} to close the connection instead.
 */
export type OversizeCallback = (meta: RpcMeta, bodyLength: number) => void;

/** True when the first four bytes of `bytes` are the native magic. */
export function hasMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x4d && bytes[1] === 0x52 && bytes[2] === 0x50 &&
    bytes[3] === 0x43;
}

/**
 * Incremental frame decoder: feed it any split or coalescing of the stream (one byte at a time,
 * many frames per chunk). A body over the limit is refused from its header, before any of it is
 * buffered: without an `onOversize` callback the stream is rejected; with one, the frame's meta
 * (when it is itself within the limit) is read and handed to it, and the payload is skipped, so
 * the one call fails and the connection lives on.
 *
 * @example
 * ```ts
 * import { FrameDecoder } from "./frame.ts";
 * import { FrameWriter } from "./frame_writer.ts";
 * const w = new FrameWriter();
 * w.writeFrame({ kind: 1, callId: 7 }, new Uint8Array([1, 2, 3]));
 * const bytes = w.take();
 * const seen: number[] = [];
 * const d = new FrameDecoder(1024, (meta, payload) => seen.push(meta.callId, payload.length));
 * for (const b of bytes) d.push(new Uint8Array([b]));
 * if (seen.join() !== "7,3") throw new Error(seen.join());
 * ```
 */
export class FrameDecoder {
  #max: number;
  #onFrame: FrameCallback;
  #header = new Uint8Array(HEADER_SIZE);
  #headerFill = 0;
  #body: Uint8Array | undefined;
  #bodyFill = 0;
  #metaLen = 0;
  #onOversize: OversizeCallback | undefined;
  /** Body length of the oversize frame whose meta is being read, or 0. */
  #oversize = 0;
  /** Payload bytes of an oversize frame still to skip. */
  #skip = 0;
  /** The one meta object filled for every frame (`reuseMeta`), or undefined. */
  #meta: RpcMeta | undefined;
  /** Makes the array a frame body is collected in (`allocBody`), or undefined: a new array. */
  #allocBody: ((length: number) => Uint8Array) | undefined;

  /**
   * Creates a decoder refusing bodies over `maxMessageBytes`; `onOversize` (optional) receives
   * the meta of such frames, whose payload is then skipped. With `reuseMeta`, every frame's meta
   * is decoded into one object (no allocation per frame), which callbacks must not keep. With
   * `allocBody`, a body that does not arrive whole in one chunk is collected in the array it
   * returns (exactly `length` long) instead of a new one.
   */
  constructor(
    maxMessageBytes: number,
    onFrame: FrameCallback,
    onOversize?: OversizeCallback,
    options?: {
      reuseMeta?: boolean | undefined;
      allocBody?: ((length: number) => Uint8Array) | undefined;
    },
  ) {
    this.#max = maxMessageBytes;
    this.#onFrame = onFrame;
    this.#onOversize = onOversize;
    if (options?.reuseMeta === true) this.#meta = emptyMeta();
    this.#allocBody = options?.allocBody;
  }

  /** Bytes of an unfinished frame held by the decoder (1 while skipping an oversize payload). */
  get buffered(): number {
    return this.#headerFill + this.#bodyFill + (this.#skip > 0 ? 1 : 0);
  }

  /**
   * The unfilled rest of the frame body being received, when at least `minBytes` of it are
   * missing: a reader may read the socket straight into it (saving a copy of a large body out of
   * its read buffer) and then report the bytes with {@linkcode FrameDecoder.advance}.
   */
  pendingBody(minBytes: number): Uint8Array | undefined {
    const body = this.#body;
    if (body === undefined || body.length - this.#bodyFill < minBytes) return undefined;
    return body.subarray(this.#bodyFill);
  }

  /**
   * Counts `n` bytes read straight into the array {@linkcode FrameDecoder.pendingBody} returned;
   * calls back with the frame once its body is complete.
   *
   * @throws {FrameError} as {@linkcode FrameDecoder.push} does.
   */
  advance(n: number): void {
    const body = this.#body!;
    this.#bodyFill += n;
    if (this.#bodyFill === body.length) {
      this.#body = undefined;
      this.#bodyFill = 0;
      this.#deliver(body, 0, this.#metaLen, body.length, true);
    }
  }

  /**
   * Consumes `chunk`, calling back once per complete frame.
   *
   * @throws {FrameError} when the stream is invalid; the decoder must not be used again.
   */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, n - pos);
        this.#skip -= take;
        pos += take;
        continue;
      }
      const body = this.#body;
      if (body !== undefined) {
        const take = Math.min(body.length - this.#bodyFill, n - pos);
        body.set(chunk.subarray(pos, pos + take), this.#bodyFill);
        this.#bodyFill += take;
        pos += take;
        if (this.#bodyFill === body.length) {
          this.#body = undefined;
          this.#bodyFill = 0;
          this.#deliver(body, 0, this.#metaLen, body.length, true);
        }
        continue;
      }
      let bodyLen: number;
      if (this.#headerFill === 0 && n - pos >= HEADER_SIZE) {
        bodyLen = this.#parseHeader(chunk, pos);
        pos += HEADER_SIZE;
      } else {
        const take = Math.min(HEADER_SIZE - this.#headerFill, n - pos);
        this.#header.set(chunk.subarray(pos, pos + take), this.#headerFill);
        this.#headerFill += take;
        pos += take;
        if (this.#headerFill < HEADER_SIZE) return;
        this.#headerFill = 0;
        bodyLen = this.#parseHeader(this.#header, 0);
      }
      if (n - pos >= bodyLen) {
        this.#deliver(chunk, pos, pos + this.#metaLen, pos + bodyLen, false);
        pos += bodyLen;
      } else {
        this.#body = this.#allocBody === undefined
          ? new Uint8Array(bodyLen)
          : this.#allocBody(bodyLen);
        this.#bodyFill = 0;
      }
    }
  }

  #parseHeader(b: Uint8Array, p: number): number {
    const magic = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    if (magic !== MAGIC) {
      throw new FrameError(
        "BAD_MAGIC",
        `bad frame magic 0x${magic.toString(16).padStart(8, "0")}: not an mprpc frame`,
      );
    }
    const bodyLen = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0;
    const metaLen = ((b[p + 8]! << 24) | (b[p + 9]! << 16) | (b[p + 10]! << 8) | b[p + 11]!) >>>
      0;
    if (metaLen > bodyLen) {
      throw new FrameError("BAD_LENGTH", `meta length ${metaLen} exceeds body length ${bodyLen}`);
    }
    this.#metaLen = metaLen;
    if (bodyLen > this.#max) {
      if (this.#onOversize === undefined || metaLen > this.#max) {
        throw new FrameError(
          "TOO_LARGE",
          `frame of ${bodyLen} bytes exceeds maxMessageBytes ${this.#max}`,
        );
      }
      // Read just the meta (to learn which call it is), then skip the payload.
      this.#oversize = bodyLen;
      return metaLen;
    }
    return bodyLen;
  }

  #deliver(buf: Uint8Array, start: number, metaEnd: number, end: number, owned: boolean): void {
    if (this.#oversize !== 0) {
      const bodyLen = this.#oversize;
      this.#oversize = 0;
      this.#skip = bodyLen - this.#metaLen;
      this.#onOversize!(this.#decodeMeta(buf, start, metaEnd), bodyLen);
      return;
    }
    this.#onFrame(
      this.#decodeMeta(buf, start, metaEnd),
      buf.subarray(metaEnd, end),
      owned,
    );
  }

  #decodeMeta(buf: Uint8Array, start: number, end: number): RpcMeta {
    let meta: RpcMeta;
    try {
      meta = decodeMeta(buf, start, end, this.#meta);
    } catch (e) {
      // TypeError: invalid UTF-8 in a string field (the decoder is fatal).
      if (e instanceof MetaError || e instanceof TypeError) {
        throw new FrameError("BAD_META", e.message);
      }
      throw e;
    }
    // decodeMeta keeps the call id within 0..MAX_CALL_ID; 0 names no call.
    if (meta.callId === 0 && (meta.kind <= Kind.CANCEL || meta.kind >= Kind.MESSAGE)) {
      throw new FrameError(
        "BAD_META",
        `call id 0 in a frame of kind ${meta.kind}: call ids are 1..${MAX_CALL_ID}`,
      );
    }
    return meta;
  }
}
