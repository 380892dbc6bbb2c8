/**
 * Compiled method descriptors: everything the call path needs about one RPC method, computed
 * once per method (codecs, the pre-encoded route) so nothing is looked up per call.
 *
 * Messages cross the API as plain objects: camelCase field names, 64-bit integers (map keys
 * included) as decimal strings on the way out (number, decimal string or bigint accepted on the
 * way in), `bytes` as `Uint8Array`, enums by name on the way out (name or number on the way in),
 * absent scalars as their defaults, absent messages as `null`; `null`/`undefined` on the way in
 * mean absent. Input that does not fit the type is refused, never coerced (`message_check.ts`).
 *
 * @module
 */
import { protobuf } from "../deps.ts";
import { encodeRoute } from "../wire/meta.ts";
import type { EncodedPayload } from "../wire/frame_writer.ts";
import { messageCheck } from "./message_check.ts";

/** The queued operations of a protobufjs Writer (what `finish()` replays into a new buffer). */
interface WriterOp {
  fn: (val: unknown, buf: Uint8Array, pos: number) => void;
  val: unknown;
  len: number;
  next: WriterOp | undefined;
}

/** A protobufjs Writer's output, replayed into the caller's buffer instead of a new one. */
class LazyMessage implements EncodedPayload {
  readonly length: number;
  #head: WriterOp | undefined;
  constructor(writer: protobuf.Writer) {
    this.length = writer.len;
    this.#head = (writer as unknown as { head: WriterOp }).head.next;
  }
  writeTo(buf: Uint8Array, pos: number): void {
    for (let op = this.#head; op !== undefined; op = op.next) {
      op.fn(op.val, buf, pos);
      pos += op.len;
    }
  }
}

/** A plain-object message as it crosses the API. */
// deno-lint-ignore no-explicit-any
export type Message = Record<string, any>;

// `defaults: true` would allocate an empty Buffer for every bytes field, present or not (about
// 0.4 µs each); absent fields are filled from a per-type table instead (see fillerOf).
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  arrays: true,
  objects: true,
};

const EMPTY_MESSAGE: Message = Object.freeze({});

/** The value of every absent `bytes` field: one shared, empty, frozen array. */
const EMPTY_BYTES: Uint8Array = Object.freeze(new Uint8Array(0)) as Uint8Array;

type Filler = (o: Message) => void;
const fillers = new WeakMap<protobuf.Type, Filler>();

function defaultOf(f: protobuf.Field): unknown {
  if (f.resolvedType instanceof protobuf.Enum) {
    const n = typeof f.typeDefault === "number" ? f.typeDefault : 0;
    return f.resolvedType.valuesById[n] ?? n;
  }
  if (f.type === "bytes") return EMPTY_BYTES;
  if (LONG_TYPES.has(f.type)) return f.typeDefault == null ? "0" : String(f.typeDefault);
  return f.typeDefault;
}

/** Sets absent fields of a `toObject` result (and of its sub-messages) to their defaults. */
function fillerOf(type: protobuf.Type): Filler {
  let filler = fillers.get(type);
  if (filler) return filler;
  const defaults: Array<[string, unknown]> = [];
  const nested: Array<[string, protobuf.Type, "one" | "list" | "map"]> = [];
  filler = (o: Message) => {
    for (const [k, v] of defaults) if (o[k] === undefined) o[k] = v;
    for (const [k, t, kind] of nested) {
      const v = o[k];
      if (v === null || v === undefined) continue;
      const fill = fillerOf(t);
      if (kind === "one") fill(v);
      else if (kind === "list") { for (const e of v) fill(e); }
      else for (const key in v) fill(v[key]);
    }
  };
  fillers.set(type, filler); // before the loop: recursive types refer to themselves
  for (const f of type.fieldsArray) {
    f.resolve();
    const msg = f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
    if (f.partOf) {
      // oneof members (and proto3 `optional`) stay absent, as protobufjs; a present message's
      // own fields are filled
      if (msg) nested.push([f.name, msg, "one"]);
      continue;
    }
    if (f.map || f.repeated) {
      if (msg) nested.push([f.name, msg, f.map ? "map" : "list"]);
      continue; // `arrays`/`objects` give [] and {}
    }
    if (msg) {
      defaults.push([f.name, null]);
      nested.push([f.name, msg, "one"]);
    } else {
      defaults.push([f.name, defaultOf(f)]);
    }
  }
  return filler;
}

const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/** Encoder/decoder of one message type. */
export interface TypeCodec {
  readonly type: protobuf.Type;
  /** The type, directly or through nested messages, has `bytes` fields (decode aliases input). */
  readonly hasBytes: boolean;
  /**
   * Encodes `message` (a plain object, or a protobufjs message of the type).
   *
   * @throws {TypeError} naming the field path when a plain object does not fit the type
   * (wrong type, out of range, unknown field: see `message_check.ts`).
   */
  encode(message: Message): Uint8Array;
  /** Encodes `message` into a payload that writes itself straight into a frame (no own buffer). */
  encodeLazy(message: Message): EncodedPayload;
  /**
   * Decodes `bytes`. With `borrowed`, `bytes` is a view into a buffer that will be reused, so
   * `bytes` fields are copied out of it; otherwise they are views of `bytes`.
   */
  decode(bytes: Uint8Array, borrowed?: boolean): Message;
}

/**
 * Copies `this[start..end)` out of a borrowed buffer, for protobufjs's reader (`_slice`): small
 * copies are views into shared 8 KiB slabs, so a `bytes` field costs no buffer allocation.
 */
let slab = new Uint8Array(8192);
let slabUsed = 0;
function copyOut(this: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n > 1024) return this.slice(start, end);
  if (slabUsed + n > slab.length) {
    slab = new Uint8Array(8192);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  out.set(this.subarray(start, end));
  slabUsed += (n + 7) & ~7;
  return out;
}

const codecs = new WeakMap<protobuf.Type, TypeCodec>();

function walkFields(type: protobuf.Type, test: (f: protobuf.Field) => boolean): boolean {
  const seen = new Set<protobuf.Type>();
  const visit = (t: protobuf.Type): boolean => {
    if (seen.has(t)) return false;
    seen.add(t);
    for (const f of t.fieldsArray) {
      f.resolve();
      if (test(f)) return true;
      if (f.resolvedType instanceof protobuf.Type && visit(f.resolvedType)) return true;
    }
    return false;
  };
  return visit(type);
}

/** The (cached) codec of a message type. */
export function typeCodec(type: protobuf.Type): TypeCodec {
  let codec = codecs.get(type);
  if (codec) return codec;
  const hasBytes = walkFields(type, (f) => f.type === "bytes");
  const ctor = type.ctor;
  const fill = fillerOf(type);
  const check = messageCheck(type);
  const toWriter = (message: Message): protobuf.Writer => {
    if (message instanceof ctor) return type.encode(message);
    return type.encode(check(message ?? EMPTY_MESSAGE));
  };
  codec = {
    type,
    hasBytes,
    encode(message: Message): Uint8Array {
      return toWriter(message).finish();
    },
    encodeLazy(message: Message): EncodedPayload {
      return new LazyMessage(toWriter(message));
    },
    decode(bytes: Uint8Array, borrowed = false): Message {
      let input: Uint8Array | protobuf.Reader = bytes;
      if (borrowed && hasBytes) {
        // protobufjs returns `bytes` fields as subarrays of its input: copy just those.
        const reader = protobuf.Reader.create(bytes);
        (reader as unknown as { _slice: typeof copyOut })._slice = copyOut;
        input = reader;
      }
      const o = type.toObject(type.decode(input), TO_OBJECT);
      fill(o);
      return o;
    },
  };
  codecs.set(type, codec);
  return codec;
}

/** Everything the call path needs about one method. */
export interface MethodDescriptor {
  /** Package-qualified service name without a leading dot, e.g. `fixbug.UserServiceRpc`. */
  readonly service: string;
  /** Method name as written in the `.proto`, e.g. `Login`. */
  readonly name: string;
  /** `Login` → `login`. */
  readonly camelName: string;
  /** The reflected method. */
  readonly method: protobuf.Method;
  readonly request: TypeCodec;
  readonly response: TypeCodec;
  /** Pre-encoded `service` + `method` fields of the request meta. */
  readonly route: Uint8Array;
}

/** `Login` → `login`. */
export function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** `.fixbug.UserServiceRpc` → `fixbug.UserServiceRpc`. */
export function serviceName(service: protobuf.Service): string {
  return service.fullName.replace(/^\./, "");
}

const descriptors = new WeakMap<protobuf.Method, MethodDescriptor>();

/**
 * The (cached) descriptor of a method.
 *
 * @throws {TypeError} for streaming methods, which this toolkit does not serve.
 */
export function describeMethod(method: protobuf.Method): MethodDescriptor {
  let d = descriptors.get(method);
  if (d) return d;
  const service = method.parent;
  if (!(service instanceof protobuf.Service)) {
    throw new TypeError(`Method ${method.name} does not belong to a service`);
  }
  if (method.requestStream || method.responseStream) {
    throw new TypeError(
      `Method ${
        serviceName(service)
      }.${method.name} is streaming; only unary methods are supported`,
    );
  }
  method.resolve();
  const name = serviceName(service);
  d = {
    service: name,
    name: method.name,
    camelName: lowerCamel(method.name),
    method,
    request: typeCodec(method.resolvedRequestType!),
    response: typeCodec(method.resolvedResponseType!),
    route: encodeRoute(name, method.name),
  };
  descriptors.set(method, d);
  return d;
}

/** Descriptors of every method of a service, in declaration order. */
export function describeService(service: protobuf.Service): MethodDescriptor[] {
  if (!(service instanceof protobuf.Service)) {
    throw new TypeError(`Expected a protobuf Service (root.lookupService(...)), got ${service}`);
  }
  return service.methodsArray.map(describeMethod);
}
