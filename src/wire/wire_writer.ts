/**
 * Writing protobuf wire data by hand: the one varint writer and length-delimited field encoder
 * of both protocols' codecs (`RpcMeta` in `meta.ts`, the C++ protocol's `RpcHeader` in
 * `src/legacy/legacy_codec.ts`); `wire_reader.ts` reads it back.
 *
 * @example A string field, tag and length first
 * ```ts
 * import { encodeStringField, varintSize, writeVarint } from "./wire_writer.ts";
 * const f = encodeStringField(1, "hi");
 * if (f.join() !== "10,2,104,105") throw new Error(f.join());
 * const buf = new Uint8Array(varintSize(300));
 * if (writeVarint(buf, 0, 300) !== 2 || buf.join() !== "172,2") throw new Error(buf.join());
 * ```
 *
 * @module
 */

const encoder = new TextEncoder();

/** Bytes a varint of `v` (0..2^32-1) takes. */
export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Writes a varint of `v` (0..2^32-1) at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v = v >>> 7;
  }
  buf[pos++] = v;
  return pos;
}

/**
 * A length-delimited field (tag + length + bytes), pre-encoded: used for strings that repeat on
 * every call (service and method names) so they are UTF-8 encoded once.
 */
export function encodeStringField(field: number, value: string): Uint8Array {
  const bytes = encoder.encode(value);
  const out = new Uint8Array(1 + varintSize(bytes.length) + bytes.length);
  let p = writeVarint(out, 0, (field << 3) | 2);
  p = writeVarint(out, p, bytes.length);
  out.set(bytes, p);
  return out;
}
