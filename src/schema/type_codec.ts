/**
 * The codec of one message type: encode (after the compiled input check) and decode to a plain
 * object with defaults filled, computed once per type.
 *
 * Messages cross the API as plain objects: camelCase field names, 64-bit integers (map keys
 * included) as decimal strings on the way out (number, decimal string or bigint accepted on the
 * way in), `bytes` as `Uint8Array`, enums by name on the way out (name or number on the way in),
 * absent scalars as their defaults, absent messages as `null`; `null`/`undefined` on the way in
 * mean absent. Input that does not fit the type is refused, never coerced (`message_check.ts`).
 *
 * @module
 */
import type { EncodedPayload } from "../wire/frame_writer.ts";
import { copyingReader, payloadWriter, protobuf } from "./_protobuf_internals.ts";
import { defaultsFiller, type Message } from "./message_defaults.ts";
import { messageCheck } from "./message_check.ts";

export type { Message } from "./message_defaults.ts";

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

// Defaults come from `defaultsFiller` (see message_defaults.ts), not `defaults: true`.
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  arrays: true,
  objects: true,
};

const EMPTY_MESSAGE: Message = Object.freeze({});

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
  const fill = defaultsFiller(type);
  const check = messageCheck(type);
  const toWriter = (message: Message, writer?: protobuf.Writer): protobuf.Writer => {
    if (message instanceof ctor) return type.encode(message, writer);
    return type.encode(check(message ?? EMPTY_MESSAGE), writer);
  };
  codec = {
    type,
    hasBytes,
    encode(message: Message): Uint8Array {
      return toWriter(message).finish();
    },
    encodeLazy(message: Message): EncodedPayload {
      const writer = payloadWriter();
      toWriter(message, writer);
      return writer;
    },
    decode(bytes: Uint8Array, borrowed = false): Message {
      // protobufjs returns `bytes` fields as subarrays of its input: copy just those.
      const input = borrowed && hasBytes ? copyingReader(bytes) : bytes;
      const o = type.toObject(type.decode(input), TO_OBJECT);
      fill(o);
      return o;
    },
  };
  codecs.set(type, codec);
  return codec;
}
