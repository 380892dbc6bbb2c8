/**
 * OpenTelemetry tracing of calls, through `@opentelemetry/api`: a CLIENT span per call a channel
 * makes and a SERVER span per call a provider serves, with the `rpc.*` semantic conventions,
 * linked by a W3C `traceparent` in the call's metadata. Until an SDK registers a tracer provider
 * the API is a no-op, and so is this: each call only asks {@linkcode tracingEnabled}.
 *
 * @module
 */
import {
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "../deps.ts";
import { codeName } from "../errors.ts";
import { formatTraceparent, parseTraceparent, TRACEPARENT, TRACESTATE } from "./trace_context.ts";

/** The instrumentation scope name of mprpc's spans (`trace.getTracer(TRACER_NAME)`). */
export const TRACER_NAME = "mprpc";

/** The attribute holding the call's status code (numbered as gRPC's). */
export const STATUS_CODE_ATTRIBUTE = "rpc.mprpc.status_code";

/** The API's no-op provider, the delegate of its global proxy until an SDK registers. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether a tracer provider is registered (`trace.setGlobalTracerProvider`, or an SDK's
 * `register()`): two property reads and a comparison, cheap enough for every call.
 *
 * @example
 * ```ts
 * import { tracingEnabled } from "./tracing.ts";
 * if (tracingEnabled()) throw new Error("no SDK is registered in this example");
 * ```
 */
export function tracingEnabled(): boolean {
  const p = trace.getTracerProvider();
  return !(p instanceof ProxyTracerProvider) || p.getDelegate() !== NOOP_PROVIDER;
}

/** The method a span is about. */
export interface TracedMethod {
  /** Package-qualified service name. */
  readonly service: string;
  /** Method name. */
  readonly name: string;
}

/** A started client span and the metadata to send with its call (with `traceparent`). */
export interface ClientSpan {
  /** The span; end it with {@linkcode endSpan}. */
  span: Span;
  /** The call's metadata plus `traceparent` (and `tracestate`). */
  metadata: Record<string, string>;
}

/**
 * Starts the CLIENT span of a call of `method` (child of the active span, if any) and returns
 * it with `metadata` plus its `traceparent`. Call only when {@linkcode tracingEnabled}.
 */
export function startClientSpan(
  method: TracedMethod,
  metadata: Record<string, string> | undefined,
  server?: { host: string; port: number } | undefined,
): ClientSpan {
  const span = trace.getTracer(TRACER_NAME).startSpan(`${method.service}/${method.name}`, {
    kind: SpanKind.CLIENT,
    attributes: {
      "rpc.system": "mprpc",
      "rpc.service": method.service,
      "rpc.method": method.name,
      ...(server && { "server.address": server.host, "server.port": server.port }),
    },
  });
  const sc = span.spanContext();
  const out: Record<string, string> = { ...metadata, [TRACEPARENT]: formatTraceparent(sc) };
  const state = sc.traceState?.serialize();
  if (state) out[TRACESTATE] = state;
  return { span, metadata: out };
}

/**
 * Call options of a traced call whose provider is not known when its span starts (a channel with
 * a registry): the caller puts the provider it picks on `span` ({@linkcode setServerAddress}).
 */
export interface TracedOptions {
  /** The call's CLIENT span. */
  readonly span?: Span | undefined;
}

/**
 * Puts the provider a call went to on its CLIENT span (`server.address`, `server.port`).
 *
 * @example
 * ```ts
 * import { setServerAddress, startClientSpan } from "./tracing.ts";
 * const { span } = startClientSpan({ service: "s", name: "m" }, undefined);
 * setServerAddress(span, { host: "10.0.0.5", port: 8000 }); // a no-op span without an SDK
 * span.end();
 * ```
 */
export function setServerAddress(span: Span, server: { host: string; port: number }): void {
  span.setAttributes({ "server.address": server.host, "server.port": server.port });
}

/** Codes a server span counts as errors (the caller's mistakes are not the server's). */
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/**
 * Ends `span` with the call's status `code` (and `message` when it failed): the status code
 * attribute always; status ERROR for every failure on a client span, for UNKNOWN,
 * DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS on a server span.
 */
export function endSpan(span: Span, server: boolean, code: number, message?: string): void {
  span.setAttribute(STATUS_CODE_ATTRIBUTE, code);
  if (code !== 0 && (!server || SERVER_ERRORS.has(code))) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? codeName(code) });
  }
  span.end();
}

/** What a traced handler reads of its call (a `CallContext` has these). */
export interface TracedCall {
  /** Package-qualified service name. */
  readonly service: string;
  /** Method name. */
  readonly method: string;
  /** Request metadata (the caller's `traceparent`). */
  readonly metadata: Record<string, string>;
  /** The caller's address. */
  readonly peer: { host: string; port: number };
}

/**
 * Wraps a unary handler so that, when tracing is enabled, each call runs in a SERVER span, child of
 * the caller's `traceparent`, active while the handler runs (so calls the handler makes are its
 * children); `codeOf` turns what the handler threw into a status code. Disabled, the wrapper
 * only asks {@linkcode tracingEnabled}.
 *
 * @example
 * ```ts
 * import { tracedHandler } from "./tracing.ts";
 * const handler = tracedHandler((req: unknown) => req, () => 2);
 * const ctx = { service: "s", method: "m", metadata: {}, peer: { host: "::1", port: 1 } };
 * if (handler(7, ctx) !== 7) throw new Error();
 * ```
 */
export function tracedHandler<C extends TracedCall>(
  handler: (request: unknown, ctx: C) => unknown,
  codeOf: (thrown: unknown) => number,
): (request: unknown, ctx: C) => unknown {
  return (request, ctx) => {
    if (!tracingEnabled()) return handler(request, ctx);
    return serveTraced(handler, request, ctx, codeOf);
  };
}

/** A started SERVER span and the context in which its call runs (the span active). */
export interface ServerSpan {
  /** The span; end it with {@linkcode endSpan}. */
  span: Span;
  /** The caller's trace context with `span` active: run the call's code in it. */
  context: ReturnType<typeof trace.setSpan>;
}

/**
 * Starts the SERVER span of `call`, child of the caller's `traceparent` (a new trace without
 * one). Call only when {@linkcode tracingEnabled}.
 *
 * @example
 * ```ts
 * import { endSpan, startServerSpan } from "./tracing.ts";
 * const call = { service: "s", method: "m", metadata: {}, peer: { host: "::1", port: 1 } };
 * const { span } = startServerSpan(call); // a no-op span: no SDK is registered here
 * endSpan(span, true, 0);
 * ```
 */
export function startServerSpan(call: TracedCall): ServerSpan {
  const remote = parseTraceparent(call.metadata[TRACEPARENT], call.metadata[TRACESTATE]);
  const parent = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
  const span = trace.getTracer(TRACER_NAME).startSpan(`${call.service}/${call.method}`, {
    kind: SpanKind.SERVER,
    attributes: {
      "rpc.system": "mprpc",
      "rpc.service": call.service,
      "rpc.method": call.method,
      "network.peer.address": call.peer.host,
      "network.peer.port": call.peer.port,
    },
  }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

function serveTraced<C extends TracedCall>(
  handler: (request: unknown, ctx: C) => unknown,
  request: unknown,
  ctx: C,
  codeOf: (thrown: unknown) => number,
): unknown {
  const { span, context: active } = startServerSpan(ctx);
  const fail = (e: unknown) => {
    endSpan(span, true, codeOf(e), e instanceof Error ? e.message : undefined);
  };
  let result: unknown;
  try {
    result = context.with(active, handler, undefined, request, ctx);
  } catch (e) {
    fail(e);
    throw e;
  }
  if (result !== null && typeof (result as Promise<unknown>)?.then === "function") {
    return (result as Promise<unknown>).then((v) => {
      endSpan(span, true, 0);
      return v;
    }, (e) => {
      fail(e);
      throw e;
    });
  }
  endSpan(span, true, 0);
  return result;
}
