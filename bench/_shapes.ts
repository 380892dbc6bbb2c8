/**
 * The message shapes of the benchmark suite and the protobufjs codec both raw-echo ends use.
 *
 * - `small`: `fixbug.UserServiceRpc.Login`, a 100-byte `LoginRequest` (two `bytes` fields) and a
 *   `LoginResponse` of a few bytes, as in the original C++ mprpc's example.
 * - `64k`: `mprpcbench.Bench.Echo`, a `Blob` with a 65,536-byte `bytes` field each way.
 *
 * @module
 */
import { loadProto, type Message } from "../mod.ts";
import type { protobuf } from "../src/deps.ts";

/** Names of the message shapes. */
export type ShapeName = "small" | "64k";

/** Every shape name, in report order. */
export const SHAPES: readonly ShapeName[] = ["small", "64k"];

/** The same conversions as mprpc's own codec (src/schema/type_codec.ts). */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
};

/** Encoder/decoder of one message type, doing what mprpc does with plain objects. */
export interface Codec {
  encode(message: Message): Uint8Array;
  decode(bytes: Uint8Array): Message;
}

/**
 * `fromObject` + `encode`, `decode` + `toObject`: what mprpc does per message.
 *
 * @example
 * ```ts ignore
 * const codec = codecOf(root.lookupType("fixbug.LoginRequest"));
 * codec.decode(codec.encode({ name: new Uint8Array([1]) }));
 * ```
 */
export function codecOf(type: protobuf.Type): Codec {
  return {
    encode: (m) => type.encode(type.fromObject(m)).finish(),
    decode: (b) => type.toObject(type.decode(b), TO_OBJECT),
  };
}

/** One shape: the method, a request object and the handler's answer. */
export interface Shape {
  name: ShapeName;
  service: protobuf.Service;
  /** Method name in the `.proto`. */
  method: string;
  request: Message;
  requestCodec: Codec;
  responseCodec: Codec;
  /** The handler: what the provider (and the raw proto echo) answers. */
  respond(request: Message): Message;
}

/** The loaded protos, with every shape and the `Wait` method. */
export interface Shapes {
  small: Shape;
  "64k": Shape;
  user: protobuf.Service;
  bench: protobuf.Service;
}

const EMPTY = new Uint8Array(0);

/**
 * Loads `examples/user/user.proto` and `bench/bench.proto` and builds the shapes.
 *
 * @example
 * ```ts ignore
 * const { small } = await loadShapes();
 * const response = small.respond(small.requestCodec.decode(small.requestCodec.encode(small.request)));
 * ```
 */
export async function loadShapes(): Promise<Shapes> {
  const root = await loadProto([
    new URL("../examples/user/user.proto", import.meta.url),
    new URL("./bench.proto", import.meta.url),
  ]);
  const user = root.lookupService("fixbug.UserServiceRpc");
  const bench = root.lookupService("mprpcbench.Bench");
  const loginReq = root.lookupType("fixbug.LoginRequest");
  const loginRes = root.lookupType("fixbug.LoginResponse");
  const blob = root.lookupType("mprpcbench.Blob");
  const fill = (n: number, c: number) => new Uint8Array(n).fill(c);
  const small: Shape = {
    name: "small",
    service: user,
    method: "Login",
    // 2 + 40 + 2 + 56 = 100 bytes encoded.
    request: { name: fill(40, 0x6e), pwd: fill(56, 0x70) },
    requestCodec: codecOf(loginReq),
    responseCodec: codecOf(loginRes),
    respond: (req) => ({ result: { errcode: 0, errmsg: EMPTY }, success: req.name.length > 0 }),
  };
  const big: Shape = {
    name: "64k",
    service: bench,
    method: "Echo",
    request: { data: fill(65536, 0x62) },
    requestCodec: codecOf(blob),
    responseCodec: codecOf(blob),
    respond: (req) => req,
  };
  const size = small.requestCodec.encode(small.request).length;
  if (size !== 100) throw new Error(`small request is ${size} bytes, expected 100`);
  return { small, "64k": big, user, bench };
}
