/**
 * What one streaming call records, on either side: its method's counters (in flight, bytes and
 * messages each way, the final code, the whole stream's duration) and, when tracing, the span
 * that covers the whole stream and ends with its final status. Made only when the side keeps
 * metrics or tracing is enabled; a stream without one records nothing.
 *
 * @module
 */
import { context, type Span } from "../deps.ts";
import type { MethodMetrics } from "./method_metrics.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import {
  endSpan,
  type ServerSpan,
  startServerSpan,
  type TracedCall,
  tracingEnabled,
} from "./tracing.ts";

/** The attribute holding the messages a stream sent, on its span. */
export const MESSAGES_SENT_ATTRIBUTE = "rpc.mprpc.messages_sent";
/** The attribute holding the messages a stream received, on its span. */
export const MESSAGES_RECEIVED_ATTRIBUTE = "rpc.mprpc.messages_received";

/** Where the stream's span and peer come from. */
export interface StreamRecordInit {
  /** `"server"` (provider) or `"client"` (channel). */
  side: "server" | "client";
  /** The method's counters, when the side keeps metrics. */
  metrics?: MethodMetrics | undefined;
  /** The stream's span, when tracing (a server's with the context its handler runs in). */
  span?: Span | undefined;
  /** Server side: the context with `span` active. */
  context?: ServerSpan["context"] | undefined;
  /** The peer and request metadata, kept with a failed stream for `/rpcz`. */
  peer?: { readonly host: string; readonly port: number } | undefined;
  metadata?: Record<string, string> | undefined;
}

/**
 * The record of one streaming call: {@linkcode StreamRecord.sent} and
 * {@linkcode StreamRecord.received} per message, {@linkcode StreamRecord.end} once.
 *
 * @example A server stream's record on the provider
 * ```ts
 * import { MethodMetrics } from "./method_metrics.ts";
 * import { StreamRecord } from "./stream_record.ts";
 * const m = new MethodMetrics("demo.Prices", "Watch");
 * const record = new StreamRecord({ side: "server", metrics: m });
 * record.received(10); // the one request
 * record.sent(20);
 * record.sent(20);
 * record.end(0);
 * if (m.calls[0] !== 1 || m.messagesSent !== 2 || m.responseBytes !== 40) throw new Error();
 * if (m.inflight !== 0 || m.latency.count !== 1) throw new Error();
 * ```
 */
export class StreamRecord {
  /** The span covering the stream, when tracing. */
  readonly span: Span | undefined;
  readonly #init: StreamRecordInit;
  readonly #metrics: MethodMetrics | undefined;
  readonly #t0: number = performance.now();
  readonly #server: boolean;
  #sent = 0;
  #received = 0;
  #ended = false;

  /** Starts recording a stream (counted in flight from now). */
  constructor(init: StreamRecordInit) {
    this.#init = init;
    this.#metrics = init.metrics;
    this.span = init.span;
    this.#server = init.side === "server";
    const m = init.metrics;
    if (m !== undefined) {
      m.streaming = true;
      m.begin(0);
    }
  }

  /** Runs `fn` with the stream's span active (server side), so its calls join the trace. */
  run<T>(fn: () => T): T {
    const active = this.#init.context;
    return active === undefined ? fn() : context.with(active, fn);
  }

  /** A message of `bytes` was sent (a response on the server, a request on the client). */
  sent(bytes: number): void {
    this.#sent++;
    const m = this.#metrics;
    if (m === undefined) return;
    m.messagesSent++;
    if (this.#server) m.responseBytes += bytes;
    else m.requestBytes += bytes;
  }

  /** A message of `bytes` was received (a request on the server, a response on the client). */
  received(bytes: number): void {
    this.#received++;
    const m = this.#metrics;
    if (m === undefined) return;
    m.messagesReceived++;
    if (this.#server) m.requestBytes += bytes;
    else m.responseBytes += bytes;
  }

  /** True once {@linkcode StreamRecord.end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The stream ended with status `code` (`error`: why, when it failed); later calls do nothing. */
  end(code: number, error?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const ms = performance.now() - this.#t0;
    const m = this.#metrics;
    if (m !== undefined) {
      m.end(code, ms, 0);
      if (code !== 0) {
        const peer = this.#init.peer;
        const where = peer === undefined ? undefined : endpointKey(peer);
        m.keep(this.#init.side, code, ms, where, this.#init.metadata, error);
      }
    }
    const span = this.span;
    if (span !== undefined) {
      span.setAttributes({
        [MESSAGES_SENT_ATTRIBUTE]: this.#sent,
        [MESSAGES_RECEIVED_ATTRIBUTE]: this.#received,
      });
      endSpan(span, this.#server, code, error);
    }
  }
}

/**
 * The record of a stream a provider serves, or undefined when there is nothing to record (no
 * `metrics` and no tracing): with tracing, its SERVER span starts now, child of the caller's
 * `traceparent`.
 *
 * @example
 * ```ts
 * import { MethodMetrics } from "./method_metrics.ts";
 * import { serverStreamRecord } from "./stream_record.ts";
 * const call = { service: "s", method: "m", metadata: {}, peer: { host: "::1", port: 1 } };
 * if (serverStreamRecord(undefined, call) !== undefined) throw new Error("nothing to record");
 * const m = new MethodMetrics("s", "m");
 * serverStreamRecord(m, call)?.end(1);
 * if (m.calls[1] !== 1) throw new Error();
 * ```
 */
export function serverStreamRecord(
  metrics: MethodMetrics | undefined,
  call: TracedCall,
): StreamRecord | undefined {
  const traced = tracingEnabled();
  if (metrics === undefined && !traced) return undefined;
  const started = traced ? startServerSpan(call) : undefined;
  return new StreamRecord({
    side: "server",
    metrics,
    span: started?.span,
    context: started?.context,
    peer: call.peer,
    metadata: call.metadata,
  });
}
