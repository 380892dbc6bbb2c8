/**
 * Bounds-checked reading of protobuf wire data: the one varint reader of both protocols' hand
 * written codecs (`RpcMeta` in `meta.ts`, the C++ protocol's `RpcHeader` in `src/legacy/legacy_codec.ts`).
 *
 * Every read either advances within `[pos, end)` or throws, so a loop that reads until `end`
 * always finishes:
 * - a varint is at most {@linkcode MAX_VARINT_BYTES} bytes;
 * - a varint of a 32-bit field (tags, lengths, `uint32` and enum fields) is at most
 *   {@linkcode MAX_VARINT32_BYTES} bytes and at most 2^32-1;
 * - a length is within the bytes left (so never negative, never past `end`).
 *
 * @module
 */

/** Longest varint protobuf writes: a 64-bit value in 7-bit groups. */
export const MAX_VARINT_BYTES = 10;
/** Longest varint of a 32-bit field (a tag, a length, a `uint32` or an enum). */
export const MAX_VARINT32_BYTES = 5;

/**
 * Reads the fields of one protobuf message in `buf[pos, end)`; errors are built by the caller's
 * `fail`, so each protocol throws its own error type.
 *
 * @example
 * ```ts
 * import { WireReader } from "./wire_reader.ts";
 * const bytes = new Uint8Array([0x10, 0x96, 0x01, 0x1a, 0x02, 0x68, 0x69]);
 * const r = new WireReader(bytes, 0, bytes.length, (m) => new Error(m));
 * if (r.uint32("tag") !== 0x10 || r.uint32("call id") !== 150) throw new Error();
 * r.uint32("tag");
 * if (r.length("name") !== 2 || r.pos !== 5) throw new Error();
 * try {
 *   new WireReader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x7f]), 0, 5, (m) => new Error(m))
 *     .uint32("call id"); // 2^35-1
 *   throw new Error("accepted");
 * } catch (e) {
 *   if (!/call id is over 2\^32-1/.test((e as Error).message)) throw e;
 * }
 * ```
 */
export class WireReader {
  /** The bytes read. */
  buf: Uint8Array;
  /** Position of the next byte to read. */
  pos: number;
  /** End of the message being read (exclusive); lowered while a nested message is read. */
  end: number;
  readonly #fail: (message: string) => Error;

  /** Reads `buf[pos, end)`; `fail` builds the error thrown for malformed bytes. */
  constructor(buf: Uint8Array, pos: number, end: number, fail: (message: string) => Error) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.#fail = fail;
  }

  /** Reads `buf[pos, end)` from now on (a reader reused for one message after another). */
  reset(buf: Uint8Array, pos: number, end: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /**
   * The varint of a 32-bit field (`what` names it in the error): at most 5 bytes, at most 2^32-1.
   */
  uint32(what: string): number {
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    return this.#uint32Long(what);
  }

  #uint32Long(what: string): number {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    let v = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw this.#fail(`truncated varint (${what})`);
      const b = buf[pos++]!;
      v |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
    }
    if (pos >= end) throw this.#fail(`truncated varint (${what})`);
    const b = buf[pos++]!;
    if (b >= 0x80) {
      throw this.#fail(`${what} is a varint longer than ${MAX_VARINT32_BYTES} bytes`);
    }
    if (b > 0x0f) throw this.#fail(`${what} is over 2^32-1`);
    this.pos = pos;
    // v holds the low 28 bits (non-negative); the fifth byte adds bits 28..31.
    return v + b * 0x10000000;
  }

  /** A length (`what` names the field): a 32-bit varint within the bytes left. */
  length(what: string): number {
    const n = this.uint32(what);
    if (n > this.end - this.pos) {
      throw this.#fail(`${what} of ${n} bytes overruns the ${this.end - this.pos} bytes left`);
    }
    return n;
  }

  /** Skips a varint of a 64-bit field: at most 10 bytes. */
  skipVarint(what: string): void {
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (pos >= end) throw this.#fail(`truncated varint (${what})`);
      if (buf[pos++]! < 0x80) {
        this.pos = pos;
        return;
      }
    }
    throw this.#fail(`${what} is a varint longer than ${MAX_VARINT_BYTES} bytes`);
  }

  /** Skips the value of a field of wire type `wire` (`what` names the field). */
  skipField(wire: number, what: string): void {
    switch (wire) {
      case 0:
        this.skipVarint(what);
        return;
      case 1:
        this.#skip(8, what);
        return;
      case 2: {
        const n = this.length(what);
        this.pos += n;
        return;
      }
      case 5:
        this.#skip(4, what);
        return;
      default:
        throw this.#fail(`unsupported wire type ${wire} (${what})`);
    }
  }

  #skip(n: number, what: string): void {
    if (n > this.end - this.pos) throw this.#fail(`truncated ${what}`);
    this.pos += n;
  }
}
