/**
 * Per-call options and the shape of generated stubs.
 *
 * @module
 */
import type { Message } from "../schema/method_descriptor.ts";
import type { ResponseStream } from "./response_stream.ts";
import type { BufferLoan } from "./buffer_loan.ts";

/** Options of one call. */
export interface CallOptions {
  /** Deadline relative to now; overrides the channel's `timeoutMs`. `0` = no deadline. */
  timeoutMs?: number;
  /** Aborting it cancels the call: it rejects with `CANCELLED` and the provider is told. */
  signal?: AbortSignal;
  /** Request metadata (headers), e.g. an auth token; the handler reads `ctx.metadata`. */
  metadata?: Record<string, string>;
  /**
   * Extra attempts after an `UNAVAILABLE` failure, on another provider when there is one, within
   * the deadline. Only for idempotent methods. Default 0. (A call the provider says it never
   * started, e.g. after its GOAWAY, is sent again without this, for every method.)
   */
  retries?: number;
  /** Key for the `consistent_hash` balancer (default: the channel's `hashKey`). */
  hashKey?: string;
  /**
   * Decode the response's `bytes` fields as views into the connection's receive buffer, lent
   * to this loan until it is released, instead of copies (see {@linkcode BufferLoan}).
   */
  loan?: BufferLoan;
  /**
   * Called with the response metadata (the handler's `ctx.responseMetadata`, `{}` when it set
   * none) of a call that succeeded, just before its promise resolves. A failed call's metadata
   * is on the {@linkcode RpcError} (`err.metadata`). Never called with the `"mprpc-legacy"`
   * protocol, which has no metadata.
   *
   * @example Reading a response header through a stub
   * ```ts
   * import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message Msg { string text = 1; }
   *   service Echo { rpc Say(Msg) returns (Msg); }`);
   * const echo = root.lookupService("demo.Echo");
   * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
   * provider.notifyService(echo, {
   *   Say(req, ctx) {
   *     ctx.responseMetadata["served-by"] = "node-1";
   *     return req;
   *   },
   * });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * let servedBy = "";
   * await channel.stub(echo).Say!({ text: "hi" }, {
   *   onResponseMetadata: (md) => servedBy = md["served-by"] ?? "",
   * });
   * if (servedBy !== "node-1") throw new Error();
   * await channel.close();
   * await provider.close();
   * ```
   */
  onResponseMetadata?: (metadata: Record<string, string>) => void;
}

/** One stub method: `(request, options?) => Promise<response>`. */
export type StubMethod<Req = Message, Res = Message> = (
  request?: Req,
  options?: CallOptions,
) => Promise<Res>;

/**
 * A stub: one async function per RPC, under the name as written in the `.proto` (`Login`) and
 * its lowerCamelCase alias (`login`). Pass your own interface as type argument of
 * `channel.stub<T>()` for typed requests and responses.
 */
export type Stub = Record<string, StubMethod>;

/**
 * A server-streaming stub method: `(request, options?) => ResponseStream<response>`; iterate it
 * with `for await`.
 */
export type ServerStreamMethod<Req = Message, Res = Message> = (
  request: Req,
  options?: CallOptions,
) => ResponseStream<Res>;

/** A client-streaming stub method: `(requests, options?) => Promise<response>`. */
export type ClientStreamMethod<Req = Message, Res = Message> = (
  requests: AsyncIterable<Req>,
  options?: CallOptions,
) => Promise<Res>;

/** A bidirectional stub method: `(requests, options?) => ResponseStream<response>`. */
export type BidiStreamMethod<Req = Message, Res = Message> = (
  requests: AsyncIterable<Req>,
  options?: CallOptions,
) => ResponseStream<Res>;
