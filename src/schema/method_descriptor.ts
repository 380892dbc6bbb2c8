/**
 * Compiled method descriptors: everything the call path needs about one RPC method, computed
 * once per method (the codecs of its request and response, the pre-encoded route) so nothing is
 * looked up per call.
 *
 * @module
 */
import { encodeRoute } from "../wire/meta.ts";
import { protobuf } from "./_protobuf_internals.ts";
import { type TypeCodec, typeCodec } from "./type_codec.ts";

// Callers that know only descriptors reach the message codec through here.
export { type Message, type TypeCodec, typeCodec } from "./type_codec.ts";

/**
 * How a method streams: `unary` (one request, one response), `server_stream` (one request, a
 * stream of responses), `client_stream` (a stream of requests, one response) or `bidi` (both
 * stream).
 */
export type MethodKind = "unary" | "server_stream" | "client_stream" | "bidi";

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
  /** Whether and how the method streams. */
  readonly kind: MethodKind;
}

/** `Login` → `login`. */
function lowerCamel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/**
 * The package-qualified name of `service`, without protobufjs's leading dot: the name providers
 * register and callers look up.
 *
 * @example
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * import { serviceName } from "./method_descriptor.ts";
 * const root = parseProto(`syntax = "proto3"; package fixbug;
 *   message M {} service UserServiceRpc { rpc Login(M) returns (M); }`);
 * if (serviceName(root.lookupService("fixbug.UserServiceRpc")) !== "fixbug.UserServiceRpc") {
 *   throw new Error();
 * }
 * ```
 */
export function serviceName(service: protobuf.Service): string {
  return service.fullName.replace(/^\./, "");
}

const descriptors = new WeakMap<protobuf.Method, MethodDescriptor>();

/**
 * The (cached) descriptor of a method, streaming or not (see {@linkcode MethodKind}).
 *
 * @example
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * import { describeMethod } from "./method_descriptor.ts";
 * const root = parseProto(`syntax = "proto3"; package demo; message M {}
 *   service S { rpc Watch(M) returns (stream M); }`);
 * const watch = root.lookupService("demo.S").methods["Watch"]!;
 * if (describeMethod(watch).kind !== "server_stream") throw new Error();
 * ```
 */
export function describeMethod(method: protobuf.Method): MethodDescriptor {
  let d = descriptors.get(method);
  if (d) return d;
  const service = method.parent;
  if (!(service instanceof protobuf.Service)) {
    throw new TypeError(`Method ${method.name} does not belong to a service`);
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
    kind: method.requestStream
      ? method.responseStream ? "bidi" : "client_stream"
      : method.responseStream
      ? "server_stream"
      : "unary",
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
