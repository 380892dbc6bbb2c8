/**
 * The implementation of a typed service: one handler per RPC, typed from the generated module.
 *
 * @module
 */
import type { CallContext } from "../server/call_context.ts";
import type { MethodAlias, MethodTypes } from "./method_types.ts";
import type { ServiceDefinition } from "./service_definition.ts";
import type { MethodsOf } from "./typed_stub.ts";

/**
 * The handler of method types `T`:
 * - unary: `(request, ctx) => response | Promise<response>`;
 * - server streaming: `(request, ctx) => AsyncIterable<response>` (an `async function*`), or a
 *   promise of one;
 * - client streaming: `(requests: AsyncIterable, ctx) => response | Promise<response>`;
 * - bidirectional: `(requests: AsyncIterable, ctx) => AsyncIterable<response>`.
 *
 * Responses are the `Init` types: every field optional.
 */
export type TypedHandler<T> = T extends
  MethodTypes<infer K, infer Req, unknown, unknown, infer ResInit>
  ? K extends "unary" ? (request: Req, ctx: CallContext) => ResInit | Promise<ResInit>
  : K extends "server_stream" ? (
      request: Req,
      ctx: CallContext,
    ) => AsyncIterable<ResInit> | Promise<AsyncIterable<ResInit>>
  : K extends "client_stream"
    ? (requests: AsyncIterable<Req>, ctx: CallContext) => ResInit | Promise<ResInit>
  : (requests: AsyncIterable<Req>, ctx: CallContext) => AsyncIterable<ResInit>
  : never;

/**
 * What `provider.notifyService(S, impl)` takes for a typed service `S` (`ServiceImpl<typeof S>`):
 * a handler for every method, under its `.proto` name. A missing method, an unknown one, a
 * request used as the wrong type or a response of the wrong shape is a type error.
 *
 * @example An implementation written apart from `notifyService`
 * ```ts
 * import {
 *   defineService,
 *   protoFile,
 *   RpcProvider,
 *   type ServiceImpl,
 *   type UnaryMethod,
 * } from "../../mod.ts";
 * type Msg = { text: string };
 * type MsgInit = { text?: string | undefined };
 * const Echo = defineService<{ Say: UnaryMethod<Msg, MsgInit, Msg, MsgInit> }>(
 *   protoFile("echo.proto", `syntax = "proto3"; package demo;
 *     message Msg { string text = 1; } service Echo { rpc Say(Msg) returns (Msg); }`),
 *   "demo.Echo",
 * );
 * const impl: ServiceImpl<typeof Echo> = { Say: (req) => ({ text: req.text.toUpperCase() }) };
 * await using provider = new RpcProvider();
 * provider.notifyService(Echo, impl);
 * ```
 */
export type ServiceImpl<D extends ServiceDefinition> = {
  [K in keyof MethodsOf<D> as MethodsOf<D>[K] extends MethodAlias<string> ? never : K]:
    TypedHandler<MethodsOf<D>[K]>;
};
