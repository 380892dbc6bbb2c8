/**
 * Every use of protobufjs internals, in one place: repairs of its behaviour (applied once, when
 * this module is first imported) and the few private fields the call path reaches into. A
 * protobufjs upgrade is checked against this file; the rest of the toolkit uses its public API.
 *
 * Import `protobuf` from here, not from `deps.ts`, so the repairs are in place before use.
 *
 * @module
 */
import { protobuf } from "../deps.ts";
import type { EncodedPayload } from "../wire/frame_writer.ts";
import { slabCopy } from "./slab_copy.ts";

// deno-lint-ignore no-explicit-any
const util = protobuf.util as any;

// protobufjs encodes into Node Buffers when it finds one (and Deno provides one), which costs a
// pooled Buffer allocation per message; plain Uint8Arrays are faster here and are what this
// toolkit hands out anyway.
util.Buffer = null;
protobuf.configure();

/** The private fields of protobufjs's Reader that `bytes()` reads. */
interface ReaderFields {
  buf: Uint8Array | number[];
  pos: number;
  len: number;
  _slice(this: Uint8Array | number[], start: number, end: number): Uint8Array;
  uint32(): number;
}

/** The one backing of every empty `bytes` field decoded (it has no bytes to share or change). */
const NO_BYTES = new Uint8Array(0);

// protobufjs decodes an empty `bytes` field into a new zero-length Uint8Array: making a typed
// array costs Deno ~0.4 µs, a view of an existing one ~20 ns, so an empty field is a zero-length
// view of one shared empty array instead (a response with an empty `bytes` field decoded ~2× as
// fast). Otherwise as protobufjs's own `Reader#bytes` (a view of, or with `copyingReader` a copy
// out of, the input).
protobuf.Reader.prototype.bytes = function (this: ReaderFields): Uint8Array {
  const length = this.uint32();
  const start = this.pos;
  const end = start + length;
  if (end > this.len) {
    throw new RangeError(`index out of range: ${this.pos} + ${length || 1} > ${this.len}`);
  }
  this.pos = end;
  // A reader over a plain array of numbers (protobufjs accepts one) cuts it as protobufjs does.
  if (Array.isArray(this.buf)) return this.buf.slice(start, end) as unknown as Uint8Array;
  if (start === end) return NO_BYTES.subarray(0, 0);
  return this._slice.call(this.buf, start, end);
};

// protobufjs decodes a 64-bit map key into an 8-character binary "hash" string, which its own
// encoder then reads back as a decimal string (every key becomes 0): keys are decimal strings
// here, as 64-bit values are, so decode and encode agree.
util.longToHash = (value: { toString(): string } | number): string => String(value);

// protobufjs writes a `bool` map key from the object key, so "false" (a non-empty string) was
// written as true.
protobuf.Writer.prototype.bool = function (this: protobuf.Writer, value: unknown) {
  return this.uint32(value && value !== "false" ? 1 : 0);
};

// loadProto gives the bundled well-known types camelCase field names (`typeUrl`), like the types
// of parsed files; protobufjs's JSON-form wrapper of `google.protobuf.Any` (`{"@type": ...}`)
// writes `type_url`, which the encoder would then skip: let it use whichever name the type has.
const anyWrapper = protobuf.wrappers[".google.protobuf.Any"]!;
const anyFromObject = anyWrapper.fromObject!;
anyWrapper.fromObject = function (this: protobuf.Type, object) {
  const m = anyFromObject.call(this, object) as unknown as Record<string, unknown>;
  if (this.fields.typeUrl && m.type_url !== undefined) {
    m.typeUrl = m.type_url;
    delete m.type_url;
  }
  return m as unknown as protobuf.Message;
};
const anyToObject = anyWrapper.toObject!;
anyWrapper.toObject = function (this: protobuf.Type, message, options) {
  const m = message as unknown as Record<string, unknown>;
  if (options?.json && m.typeUrl && m.value && m.type_url === undefined) {
    // Read by the wrapper under its .proto name.
    const copy = Object.assign(Object.create(Object.getPrototypeOf(m)), m, { type_url: m.typeUrl });
    return anyToObject.call(this, copy, options);
  }
  return anyToObject.call(this, message, options);
};

export { protobuf };

/** The queued operations of a protobufjs Writer (what `finish()` replays into a new buffer). */
interface WriterOp {
  fn: (val: unknown, buf: Uint8Array, pos: number) => void;
  val: unknown;
  len: number;
  next: WriterOp | undefined;
}

/**
 * A protobufjs Writer that is itself a frame payload: what it queued is replayed straight into
 * the frame's buffer (no buffer of its own, and no wrapper object per message).
 */
class PayloadWriter extends protobuf.Writer implements EncodedPayload {
  /** Bytes the message encodes to. */
  get length(): number {
    return this.len;
  }
  /** Writes the encoded message into `buf` at `pos`. */
  writeTo(buf: Uint8Array, pos: number): void {
    for (let op = (this.head as WriterOp).next; op !== undefined; op = op.next) {
      op.fn(op.val, buf, pos);
      pos += op.len;
    }
  }
}

/**
 * A writer to pass to a protobufjs `encode`: the writer it returns is a payload that writes
 * itself straight into a frame (see {@linkcode PayloadWriter}).
 */
export function payloadWriter(): protobuf.Writer & EncodedPayload {
  return new PayloadWriter();
}

/** protobufjs's reader cuts `bytes` fields with `_slice`, called on its input buffer. */
function sliceToSlab(this: Uint8Array, start: number, end: number): Uint8Array {
  return slabCopy(this, start, end);
}

/**
 * A reader of `bytes` whose `bytes` fields are copies (in shared slabs) instead of views of
 * `bytes`: for input in a buffer that will be reused.
 */
export function copyingReader(bytes: Uint8Array): protobuf.Reader {
  const reader = protobuf.Reader.create(bytes);
  (reader as unknown as { _slice: typeof sliceToSlab })._slice = sliceToSlab;
  return reader;
}

/** Makes protobufjs stamp `filename` on every type and field it parses from here on. */
export function setParseFilename(file: string | null): void {
  (protobuf.parse as unknown as { filename: string | null }).filename = file;
}

/** The JSON form of a `google/protobuf/*.proto` file bundled with protobufjs, if it has one. */
export function bundledProtoJson(name: string): protobuf.INamespace | null {
  return (protobuf.common as unknown as { get(n: string): protobuf.INamespace | null }).get(name);
}
