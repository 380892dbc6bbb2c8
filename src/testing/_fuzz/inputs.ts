/**
 * Hostile inputs for the fuzzer's decoder stage and network cases: metadata maps whose length
 * varints are mutated (overflowing to negative int32s, 2^31, off by one, past the end), overlong
 * varints (6..11 bytes), 32-bit fields over 2^32-1, out-of-range call ids, truncated entries and
 * nested lengths that lie; the same shapes for the C++ protocol's `RpcHeader` and for protobuf
 * payloads.
 *
 * @module
 */

/** The part of a seeded generator these builders use. */
export interface FuzzRng {
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/** A mulberry32 generator: uniform floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The generator of case `index` of a run seeded with `seed`. */
export class Rng implements FuzzRng {
  #next: () => number;
  constructor(seed: number, index: number) {
    this.#next = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }
  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
  /** A key of `table`, drawn with its weight. */
  weighted<T extends string>(table: ReadonlyArray<readonly [T, number]>): T {
    let total = 0;
    for (const [, w] of table) total += w;
    let r = this.#next() * total;
    for (const [k, w] of table) if ((r -= w) < 0) return k;
    return table[table.length - 1]![0];
  }
}

const enc = new TextEncoder();

/** Varint of `v` (0..2^53). */
export function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A length-delimited field. */
export function lenField(field: number, bytes: Uint8Array | number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

/** `v` padded to `n` bytes with continuation bytes (a valid value in a non-minimal varint). */
function padded(v: number, n: number): number[] {
  const out = varint(v);
  if (out.length >= n) return out;
  out[out.length - 1]! |= 0x80;
  while (out.length < n - 1) out.push(0x80);
  out.push(0x00);
  return out;
}

/** A length varint that lies: overflowing, huge, overlong, off by one, or random. */
export function hostileLength(r: FuzzRng, actual: number): number[] {
  switch (r.int(0, 9)) {
    case 0: // 2^32-k: -k as an int32 (the decoder used to step back and re-read, forever)
      return varint(2 ** 32 - r.int(1, 64));
    case 1:
      return varint(2 ** 31 + r.int(0, 3));
    case 2: // over 2^32-1 in five bytes
      return [0xff, 0xff, 0xff, 0xff, r.int(0x10, 0x7f)];
    case 3: // the right value, in 6..11 bytes
      return padded(actual, r.int(6, 11));
    case 4:
      return varint(actual + 1);
    case 5:
      return varint(Math.max(0, actual - 1));
    case 6:
      return varint(actual + r.int(2, 300));
    case 7: // cut short: a continuation byte with nothing after it in this field
      return [0x80 | r.int(0, 127)];
    case 8: // eleven or more bytes
      return [...new Array(r.int(10, 14)).fill(0xff), 0x01];
    default:
      return [...r.bytes(r.int(1, 5))];
  }
}

/** A varint of a 32-bit field that is out of range or overlong. */
export function hostileUint32(r: FuzzRng): number[] {
  switch (r.int(0, 4)) {
    case 0:
      return padded(r.int(0, 1000), r.int(6, 10));
    case 1:
      return varint(2 ** 32 + r.int(0, 2 ** 20));
    case 2:
      return [0xff, 0xff, 0xff, 0xff, r.int(0x10, 0x7f)];
    case 3:
      return [...new Array(r.int(10, 12)).fill(0x80), 0x00];
    default:
      return [0x00]; // 0: out of range for a call id
  }
}

/** One `map<string, string>` entry, with one of its lengths (or the entry's) made hostile. */
function hostileEntry(r: FuzzRng): number[] {
  const key = [...enc.encode(["authorization", "k", "trace-id", ""][r.int(0, 3)]!)];
  const value = [...r.bytes(r.int(0, 12))].map((b) => 0x20 + (b % 90));
  const keyLen = r.int(0, 2) === 0 ? hostileLength(r, key.length) : varint(key.length);
  const valueLen = r.int(0, 2) === 0 ? hostileLength(r, value.length) : varint(value.length);
  let inner = [0x0a, ...keyLen, ...key, 0x12, ...valueLen, ...value];
  switch (r.int(0, 5)) {
    case 0: // truncated entry
      inner = inner.slice(0, r.int(0, inner.length));
      break;
    case 1: // an unknown field inside the entry, with an overlong varint or a lying length
      inner.push(
        ...(r.int(0, 1) ? [0x18, ...hostileUint32(r)] : [0x1a, ...hostileLength(r, 2), 1, 2]),
      );
      break;
    case 2: // the key with a wrong wire type
      inner[0] = r.int(0, 1) ? 0x08 : 0x0d;
      break;
  }
  const entryLen = r.int(0, 3) === 0 ? hostileLength(r, inner.length) : varint(inner.length);
  return [0x42, ...entryLen, ...inner];
}

/** An `RpcMeta` with hostile parts: mutated metadata maps, overlong varints, bad call ids. */
export function hostileMeta(r: FuzzRng): Uint8Array {
  const out: number[] = [];
  const kind = r.int(0, 5);
  if (kind) out.push(0x08, kind);
  out.push(0x10, ...(r.int(0, 3) === 0 ? hostileUint32(r) : varint(r.int(1, 2 ** 32 - 1))));
  if (r.int(0, 1)) out.push(...lenField(3, enc.encode("mprpc.fuzz.Probe")));
  if (r.int(0, 1)) out.push(...lenField(4, enc.encode("Check")));
  if (r.int(0, 3) === 0) out.push(0x28, ...hostileUint32(r));
  for (let n = r.int(1, 3); n > 0; n--) out.push(...hostileEntry(r));
  if (r.int(0, 4) === 0) out.push(0x1a, ...hostileLength(r, 3), 0x61, 0x62, 0x63);
  if (r.int(0, 4) === 0) out.push(0x48, ...[...new Array(r.int(9, 12)).fill(0xff), 0x01]);
  return new Uint8Array(out);
}

/** A frame: 12-byte header (lengths usually right, sometimes lying), meta, payload. */
export function frameBytes(
  r: FuzzRng,
  meta: Uint8Array,
  payload: Uint8Array = new Uint8Array(),
): Uint8Array {
  const out = new Uint8Array(12 + meta.length + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x4d525043);
  let body = meta.length + payload.length;
  let metaLen = meta.length;
  if (r.int(0, 9) === 0) body = r.int(0, 2 * body + 16) >>> 0;
  if (r.int(0, 9) === 0) metaLen = r.int(0, 2 * metaLen + 16) >>> 0;
  v.setUint32(4, body);
  v.setUint32(8, metaLen);
  out.set(meta, 12);
  out.set(payload, 12 + meta.length);
  return out;
}

/** An `RpcHeader` of the C++ protocol with hostile lengths and varints. */
export function hostileLegacyHeader(r: FuzzRng): Uint8Array {
  const service = [...enc.encode("UserServiceRpc")];
  const method = [...enc.encode("Login")];
  const len = (n: number) => r.int(0, 2) === 0 ? hostileLength(r, n) : varint(n);
  const out = [0x0a, ...len(service.length), ...service, 0x12, ...len(method.length), ...method];
  if (r.int(0, 1)) out.push(0x18, ...(r.int(0, 1) ? hostileUint32(r) : varint(r.int(0, 4096))));
  if (r.int(0, 3) === 0) out.push(0x20, ...[...new Array(r.int(9, 12)).fill(0xff), 0x01]);
  if (r.int(0, 3) === 0) out.push(0x3a, ...hostileLength(r, 2), 0x61, 0x62);
  return new Uint8Array(out);
}

/** A protobuf payload of `Blob`-like messages (fields 1..5) with nested lengths that lie. */
export function hostilePayload(r: FuzzRng): Uint8Array {
  const out: number[] = [];
  for (let n = r.int(1, 4); n > 0; n--) {
    switch (r.int(0, 5)) {
      case 0: // string
        out.push(0x0a, ...hostileLength(r, 3), 0x61, 0x62, 0x63);
        break;
      case 1: // varint field with an overlong varint
        out.push(0x18, ...hostileUint32(r));
        break;
      case 2: { // nested message whose inner length lies
        const inner = [0x0a, ...hostileLength(r, 2), 0x61, 0x62];
        out.push(0x22, ...varint(inner.length), ...inner);
        break;
      }
      case 3: { // map entry, truncated or lying
        const entry = [0x0a, ...hostileLength(r, 1), 0x6b, 0x10, ...hostileUint32(r)];
        out.push(0x2a, ...(r.int(0, 1) ? hostileLength(r, entry.length) : varint(entry.length)));
        out.push(...entry.slice(0, r.int(0, entry.length)));
        break;
      }
      case 4: // group start without its end, or wire types 6 and 7
        out.push(r.int(0, 1) ? 0x0b : r.int(0, 1) ? 0x0e : 0x0f, ...r.bytes(r.int(0, 4)));
        break;
      default:
        out.push(...r.bytes(r.int(1, 16)));
    }
  }
  return new Uint8Array(out);
}

/** Flips, drops, inserts or cuts a few bytes. */
export function mutateBytes(r: FuzzRng, b: Uint8Array): Uint8Array {
  const out = [...b];
  for (let i = r.int(1, 4); i > 0 && out.length > 0; i--) {
    const at = r.int(0, out.length - 1);
    switch (r.int(0, 3)) {
      case 0:
        out[at] = out[at]! ^ (1 << r.int(0, 7));
        break;
      case 1:
        out.splice(at, 1);
        break;
      case 2:
        out.splice(at, 0, r.int(0, 255));
        break;
      default:
        out.length = at;
    }
  }
  return new Uint8Array(out);
}

/** Decoders of the decoder stage. */
export const DECODER_KINDS = [
  "meta_hostile",
  "meta_mutated",
  "meta_random",
  "frame_stream",
  "legacy_header",
  "legacy_stream",
  "payload",
] as const;

/** A decoder of the decoder stage. */
export type DecoderKind = typeof DECODER_KINDS[number];

/** One decoder-stage input: which decoder, the bytes, and where to cut them into chunks. */
export interface DecoderCase {
  kind: DecoderKind;
  bytes: Uint8Array;
  /** Chunk boundaries for the incremental decoders (sorted offsets). */
  cuts: number[];
}

/** The decoder-stage input number `index` of a run seeded with `seed`. */
export function decoderCase(seed: number, index: number): DecoderCase {
  const r = new Rng(seed, index);
  const kind = r.weighted<DecoderKind>([
    ["meta_hostile", 30],
    ["meta_mutated", 15],
    ["meta_random", 5],
    ["frame_stream", 20],
    ["legacy_header", 10],
    ["legacy_stream", 5],
    ["payload", 15],
  ]);
  let bytes: Uint8Array;
  switch (kind) {
    case "meta_hostile":
      bytes = hostileMeta(r);
      break;
    case "meta_mutated":
      bytes = mutateBytes(r, hostileMeta(r));
      break;
    case "meta_random":
      bytes = r.bytes(r.int(0, 48));
      break;
    case "frame_stream": {
      const parts: Uint8Array[] = [];
      for (let n = r.int(1, 3); n > 0; n--) {
        const meta = r.int(0, 3) === 0 ? mutateBytes(r, hostileMeta(r)) : hostileMeta(r);
        parts.push(frameBytes(r, meta, r.bytes(r.int(0, 16))));
      }
      bytes = concatBytes(parts);
      break;
    }
    case "legacy_header":
      bytes = r.int(0, 3) === 0 ? mutateBytes(r, hostileLegacyHeader(r)) : hostileLegacyHeader(r);
      break;
    case "legacy_stream": {
      const header = hostileLegacyHeader(r);
      const size = new Uint8Array(4);
      new DataView(size.buffer).setUint32(0, header.length, true);
      bytes = concatBytes([size, header, r.bytes(r.int(0, 64))]);
      break;
    }
    default:
      bytes = r.int(0, 3) === 0 ? mutateBytes(r, hostilePayload(r)) : hostilePayload(r);
  }
  const cuts: number[] = [];
  for (let n = r.int(0, 3); n > 0 && bytes.length > 1; n--) cuts.push(r.int(1, bytes.length - 1));
  cuts.sort((a, b) => a - b);
  return { kind, bytes, cuts };
}

/** `parts` joined. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * An `RpcMeta` (call id `callId`) whose metadata entry holds a key or value whose length varint
 * is 2^32-k: -k as an int32, pointing back into the entry (the shape that used to spin the
 * decoder forever).
 */
export function overflowingEntryMeta(r: FuzzRng, callId: number): Uint8Array {
  const head = [0x10, ...varint(callId)];
  const inner = [r.int(0, 1) ? 0x0a : 0x12, ...varint(2 ** 32 - r.int(1, head.length + 8))];
  return new Uint8Array([...head, 0x42, inner.length, ...inner]);
}
