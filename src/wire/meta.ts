/**
 * The `RpcMeta` message of `proto/rpc_meta.proto`, encoded and decoded by hand: it is read and
 * written once per frame, so it avoids protobufjs's generic machinery and intermediate buffers.
 * Unknown fields are skipped, so newer peers can add fields.
 *
 * @module
 */
import { WireReader } from "./wire_reader.ts";
import { encodeStringField, varintSize, writeVarint } from "./wire_writer.ts";

/** Frame kinds, the `RpcMeta.Kind` enum. */
export const Kind = {
  REQUEST: 0,
  RESPONSE: 1,
  CANCEL: 2,
  PING: 3,
  PONG: 4,
  GOAWAY: 5,
  /** A message of a streaming call, in either direction. */
  MESSAGE: 6,
  /** Caller → provider: no more request messages on this stream. */
  HALF_CLOSE: 7,
  /** Either direction: `credit` more bytes of messages may be sent on this stream. */
  WINDOW_UPDATE: 8,
} as const;

/** A frame kind number. */
export type Kind = typeof Kind[keyof typeof Kind];

/** The decoded meta of one frame. */
export interface RpcMeta {
  kind: number;
  callId: number;
  service: string;
  method: string;
  timeoutMs: number;
  status: number;
  errorMessage: string;
  metadata: Record<string, string> | undefined;
  /**
   * PING/PONG: the largest frame body the sender accepts (its `maxMessageBytes`); undefined
   * when absent (it travels only with the handshake).
   */
  maxMessageBytes?: number | undefined;
  /** GOAWAY: the last call id the provider accepted on this connection; undefined when absent. */
  lastCallId?: number | undefined;
  /**
   * RESPONSE: the provider never started this call. GOAWAY: `lastCallId` is set, and every call
   * sent after it was never started. Undefined when absent.
   */
  notStarted?: boolean | undefined;
  /** REQUEST: the call is a stream (its method streams requests, responses or both). */
  stream?: boolean | undefined;
  /** WINDOW_UPDATE: bytes of credit granted; undefined when absent. */
  credit?: number | undefined;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Raised when meta bytes are not a valid `RpcMeta`. */
export class MetaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetaError";
  }
}

/** The pre-encoded `service` and `method` fields of a request meta. */
export function encodeRoute(service: string, method: string): Uint8Array {
  const s = encodeStringField(3, service);
  const m = encodeStringField(4, method);
  const out = new Uint8Array(s.length + m.length);
  out.set(s, 0);
  out.set(m, s.length);
  return out;
}

/** Fields of a meta to encode; `route` is {@linkcode encodeRoute}'s output for requests. */
export interface MetaFields {
  kind: number;
  callId: number;
  route?: Uint8Array | undefined;
  timeoutMs?: number | undefined;
  status?: number | undefined;
  errorMessage?: string | undefined;
  metadata?: Record<string, string> | undefined;
  maxMessageBytes?: number | undefined;
  lastCallId?: number | undefined;
  notStarted?: boolean | undefined;
  stream?: boolean | undefined;
  credit?: number | undefined;
}

/**
 * Encodes `f` into a fresh array. (The frame writer encodes straight into its output buffer
 * instead; this is for tests and cold paths.)
 */
export function encodeMeta(f: MetaFields): Uint8Array {
  const extra = encodeExtra(f);
  const out = new Uint8Array(metaSize(f, extra));
  writeMeta(out, 0, f, extra);
  return out;
}

/** Pre-encoded variable parts of a meta (error text and metadata). */
export interface MetaExtra {
  error: Uint8Array | undefined;
  metadata: Uint8Array[] | undefined;
}

/** Encodes the variable-length string parts of `f` (none on the common path). */
export function encodeExtra(f: MetaFields): MetaExtra | undefined {
  if (!f.errorMessage && !f.metadata) return undefined;
  let metadata: Uint8Array[] | undefined;
  if (f.metadata) {
    metadata = [];
    for (const key in f.metadata) {
      const k = encodeStringField(1, key);
      const v = encodeStringField(2, String(f.metadata[key]));
      const entry = new Uint8Array(1 + varintSize(k.length + v.length) + k.length + v.length);
      let p = writeVarint(entry, 0, (8 << 3) | 2);
      p = writeVarint(entry, p, k.length + v.length);
      entry.set(k, p);
      entry.set(v, p + k.length);
      metadata.push(entry);
    }
  }
  return {
    error: f.errorMessage ? encodeStringField(7, f.errorMessage) : undefined,
    metadata,
  };
}

/** Encoded size of `f`. */
export function metaSize(f: MetaFields, extra: MetaExtra | undefined): number {
  let n = 0;
  if (f.kind) n += 2;
  if (f.callId) n += 1 + varintSize(f.callId);
  if (f.route) n += f.route.length;
  if (f.timeoutMs) n += 1 + varintSize(f.timeoutMs);
  if (f.status) n += 1 + varintSize(f.status);
  if (f.maxMessageBytes) n += 1 + varintSize(f.maxMessageBytes);
  if (f.lastCallId) n += 1 + varintSize(f.lastCallId);
  if (f.notStarted) n += 2;
  if (f.stream) n += 2;
  if (f.credit) n += 1 + varintSize(f.credit);
  if (extra) {
    if (extra.error) n += extra.error.length;
    if (extra.metadata) { for (const e of extra.metadata) n += e.length; }
  }
  return n;
}

/** Writes `f` at `pos` of `buf` (which must have room); returns the position after it. */
export function writeMeta(
  buf: Uint8Array,
  pos: number,
  f: MetaFields,
  extra: MetaExtra | undefined,
): number {
  if (f.kind) {
    buf[pos++] = 0x08;
    buf[pos++] = f.kind;
  }
  if (f.callId) {
    buf[pos++] = 0x10;
    pos = writeVarint(buf, pos, f.callId);
  }
  if (f.route) {
    buf.set(f.route, pos);
    pos += f.route.length;
  }
  if (f.timeoutMs) {
    buf[pos++] = 0x28;
    pos = writeVarint(buf, pos, f.timeoutMs);
  }
  if (f.status) {
    buf[pos++] = 0x30;
    pos = writeVarint(buf, pos, f.status);
  }
  if (extra) {
    if (extra.error) {
      buf.set(extra.error, pos);
      pos += extra.error.length;
    }
    if (extra.metadata) {
      for (const e of extra.metadata) {
        buf.set(e, pos);
        pos += e.length;
      }
    }
  }
  // Fields 9-11 (handshake, GOAWAY), after 7-8 to keep field order.
  if (f.maxMessageBytes) {
    buf[pos++] = 0x48;
    pos = writeVarint(buf, pos, f.maxMessageBytes);
  }
  if (f.lastCallId) {
    buf[pos++] = 0x50;
    pos = writeVarint(buf, pos, f.lastCallId);
  }
  if (f.notStarted) {
    buf[pos++] = 0x58;
    buf[pos++] = 1;
  }
  // Fields 12-13 (streams).
  if (f.stream) {
    buf[pos++] = 0x60;
    buf[pos++] = 1;
  }
  if (f.credit) {
    buf[pos++] = 0x68;
    pos = writeVarint(buf, pos, f.credit);
  }
  return pos;
}

function readString(buf: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len < 48) {
    // ASCII fast path: short names are decoded without crossing into TextDecoder.
    let s = "";
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return decoder.decode(buf.subarray(start, end));
}

/**
 * Remembers the last string decoded for a field, so the service and method names that repeat on
 * every request come back as the same string object (whose hash V8 has already computed) without
 * decoding them again.
 */
class NameCache {
  #bytes = new Uint8Array(64);
  #len = -1;
  #value = "";
  read(buf: Uint8Array, start: number, end: number): string {
    const len = end - start;
    if (len === this.#len) {
      const b = this.#bytes;
      let i = 0;
      while (i < len && b[i] === buf[start + i]) i++;
      if (i === len) return this.#value;
    }
    const value = readString(buf, start, end);
    if (len <= this.#bytes.length) {
      this.#bytes.set(buf.subarray(start, end));
      this.#len = len;
      this.#value = value;
    }
    return value;
  }
}
const serviceNames = new NameCache();
const methodNames = new NameCache();

/** Builds the error thrown for malformed meta bytes. */
function metaError(message: string): MetaError {
  return new MetaError(`${message} in RpcMeta`);
}

/** Names of the fields of `RpcMeta` by number, for error messages. */
const FIELD_NAMES: readonly string[] = [
  "field 0",
  "kind",
  "call id",
  "service",
  "method",
  "timeout",
  "status",
  "error message",
  "metadata entry",
  "max message bytes",
  "last call id",
  "not started",
  "stream",
  "credit",
];
const UNKNOWN_FIELD = "unknown field";

const NO_BYTES = new Uint8Array(0);
/** The reader of {@linkcode decodeMeta}, reset for each meta. */
const reader = new WireReader(NO_BYTES, 0, 0, metaError);

/**
 * A meta object for {@linkcode decodeMeta}'s `into`: every field present from the start, so
 * refilling it never changes its shape.
 *
 * @example
 * ```ts
 * import { decodeMeta, emptyMeta } from "./meta.ts";
 * const reused = emptyMeta();
 * const meta = decodeMeta(new Uint8Array([0x08, 0x01, 0x10, 0x07]), 0, 4, reused);
 * if (meta !== reused || meta.kind !== 1 || meta.callId !== 7) throw new Error();
 * ```
 */
export function emptyMeta(): RpcMeta {
  return {
    kind: 0,
    callId: 0,
    service: "",
    method: "",
    timeoutMs: 0,
    status: 0,
    errorMessage: "",
    metadata: undefined,
    maxMessageBytes: undefined,
    lastCallId: undefined,
    notStarted: undefined,
    stream: undefined,
    credit: undefined,
  };
}

/**
 * Decodes meta bytes. Every length and varint is bounds-checked (see `wire_reader.ts`): tags,
 * lengths and 32-bit fields take at most 5 bytes and are at most 2^32-1, other varints take at
 * most 10 bytes, and no length reaches past its message, so any input is decoded or rejected in
 * one pass over it.
 *
 * `start` and `end` bound the meta inside `buf` (a frame in a read buffer is decoded in place).
 * With `into` (made by {@linkcode emptyMeta}), that object is cleared, filled and returned
 * instead of a new one: for a reader that uses each meta only until the next.
 *
 * @throws {MetaError} on truncated or malformed input.
 */
export function decodeMeta(
  buf: Uint8Array,
  start = 0,
  end: number = buf.length,
  into?: RpcMeta,
): RpcMeta {
  let meta: RpcMeta;
  if (into === undefined) {
    meta = {
      kind: 0,
      callId: 0,
      service: "",
      method: "",
      timeoutMs: 0,
      status: 0,
      errorMessage: "",
      metadata: undefined,
    };
  } else {
    meta = into;
    meta.kind = 0;
    meta.callId = 0;
    meta.service = "";
    meta.method = "";
    meta.timeoutMs = 0;
    meta.status = 0;
    meta.errorMessage = "";
    meta.metadata = undefined;
    meta.maxMessageBytes = undefined;
    meta.lastCallId = undefined;
    meta.notStarted = undefined;
    meta.stream = undefined;
    meta.credit = undefined;
  }
  // Decoding is synchronous and never re-entered: one reader serves every call.
  const r = reader;
  r.reset(buf, start, end);
  while (r.pos < end) {
    // Fast path: the tag of a field numbered 1..15 is one byte.
    let tag = buf[r.pos]!;
    if (tag < 0x80) r.pos++;
    else tag = r.uint32("field tag");
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw metaError("field number 0");
    const what = FIELD_NAMES[field] ?? UNKNOWN_FIELD;
    if (wire === 0) {
      switch (field) {
        case 1:
          meta.kind = r.uint32(what);
          break;
        case 2:
          meta.callId = r.uint32(what);
          break;
        case 5:
          meta.timeoutMs = r.uint32(what);
          break;
        case 6:
          meta.status = r.uint32(what);
          break;
        case 9:
          meta.maxMessageBytes = r.uint32(what);
          break;
        case 10:
          meta.lastCallId = r.uint32(what);
          break;
        case 11:
          meta.notStarted = r.uint32(what) !== 0;
          break;
        case 12:
          meta.stream = r.uint32(what) !== 0;
          break;
        case 13:
          meta.credit = r.uint32(what);
          break;
        default:
          r.skipVarint(what);
      }
    } else if (wire === 2) {
      const len = r.length(what);
      const s = r.pos;
      const e = s + len;
      switch (field) {
        case 3:
          meta.service = serviceNames.read(buf, s, e);
          break;
        case 4:
          meta.method = methodNames.read(buf, s, e);
          break;
        case 7:
          meta.errorMessage = readString(buf, s, e);
          break;
        case 8:
          decodeEntry(r, e, meta.metadata ??= {});
          break;
      }
      r.pos = e;
    } else {
      r.skipField(wire, what);
    }
  }
  // The shared reader must not keep the frame's bytes alive until the next meta.
  r.reset(NO_BYTES, 0, 0);
  return meta;
}

/**
 * Decodes one `map<string, string>` entry (a nested message of fields 1 = key and 2 = value)
 * ending at `end`, into `into`; `r` is left at `end`.
 */
function decodeEntry(r: WireReader, end: number, into: Record<string, string>): void {
  const outerEnd = r.end;
  r.end = end;
  let key = "";
  let value = "";
  while (r.pos < end) {
    const tag = r.uint32("metadata entry tag");
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 0) throw metaError("field number 0 in a metadata entry");
    if (field === 1 || field === 2) {
      if (wire !== 2) throw metaError(`bad metadata entry (field ${field}, wire type ${wire})`);
      const len = r.length(field === 1 ? "metadata key" : "metadata value");
      const s = r.pos;
      r.pos = s + len;
      if (field === 1) key = readString(r.buf, s, r.pos);
      else value = readString(r.buf, s, r.pos);
    } else {
      r.skipField(wire, "unknown field of a metadata entry");
    }
  }
  r.end = outerEnd;
  into[key] = value;
}
