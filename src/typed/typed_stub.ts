/**
 * The stub of a typed service: one method per RPC, typed from the generated module.
 *
 * @module
 */
import type { CallOptions } from "../client/call_options.ts";
import type { ResponseStream } from "../client/response_stream.ts";
import type { MethodAlias, MethodTypes } from "./method_types.ts";
import type { ServiceDefinition } from "./service_definition.ts";

/** The method types `M` of a service definition `D`. */
export type MethodsOf<D> = D extends ServiceDefinition<infer M> ? M : never;

/**
 * The stub function of method types `T`:
 * - unary: `(request, options?) => Promise<response>`;
 * - server streaming: `(request, options?) => ResponseStream<response>`;
 * - client streaming: `(requests: AsyncIterable, options?) => Promise<response>`;
 * - bidirectional: `(requests: AsyncIterable, options?) => ResponseStream<response>`.
 */
export type TypedStubMethod<T> = T extends
  MethodTypes<infer K, unknown, infer ReqInit, infer Res, unknown>
  ? K extends "unary" ? (request: ReqInit, options?: CallOptions) => Promise<Res>
  : K extends "server_stream" ? (request: ReqInit, options?: CallOptions) => ResponseStream<Res>
  : K extends "client_stream"
    ? (requests: AsyncIterable<ReqInit>, options?: CallOptions) => Promise<Res>
  : (requests: AsyncIterable<ReqInit>, options?: CallOptions) => ResponseStream<Res>
  : never;

/**
 * What `channel.stub(S)` returns for a typed service `S` (`TypedStub<typeof S>`): each method
 * under its `.proto` name and its lowerCamelCase alias, taking the request's `Init` type and
 * resolving with the response type.
 *
 * @example Keeping a typed stub in a field
 * ```ts
 * import {
 *   defineService,
 *   type MethodAlias,
 *   protoFile,
 *   RpcChannel,
 *   type TypedStub,
 *   type UnaryMethod,
 * } from "../../mod.ts";
 * type Msg = { text: string };
 * type MsgInit = { text?: string | undefined };
 * const Echo = defineService<{
 *   Say: UnaryMethod<Msg, MsgInit, Msg, MsgInit>;
 *   say: MethodAlias<"Say">; // the generator lists the aliases the runtime gives
 * }>(
 *   protoFile("echo.proto", `syntax = "proto3"; package demo;
 *     message Msg { string text = 1; } service Echo { rpc Say(Msg) returns (Msg); }`),
 *   "demo.Echo",
 * );
 * await using channel = new RpcChannel({ address: "127.0.0.1:1" });
 * const echo: TypedStub<typeof Echo> = channel.stub(Echo);
 * if (echo.say !== echo.Say) throw new Error("the alias is the same function");
 * ```
 */
export type TypedStub<D extends ServiceDefinition> = {
  readonly [K in keyof MethodsOf<D>]: MethodsOf<D>[K] extends MethodAlias<infer N>
    ? N extends keyof MethodsOf<D> ? TypedStubMethod<MethodsOf<D>[N]> : never
    : TypedStubMethod<MethodsOf<D>[K]>;
};
