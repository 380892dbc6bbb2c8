/**
 * What a channel records around each call: the method's counters (made once per method
 * descriptor) and, when an OpenTelemetry SDK is registered, a CLIENT span whose `traceparent`
 * travels in the call's metadata.
 *
 * @module
 */
import type { Span } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { errorMessage } from "../util/error_message.ts";
import type { CallMetrics } from "./metrics.ts";
import type { MethodMetrics } from "./method_metrics.ts";
import { endSpan, startClientSpan, tracingEnabled } from "./tracing.ts";
import { StreamRecord } from "./stream_record.ts";

/** A response decoder (as the channel's connections use it). */
interface Decoder {
  decode(payload: Uint8Array, borrowed: boolean): unknown;
  onMetadata?: ((metadata: Record<string, string>) => void) | undefined;
  readonly hasBytes?: boolean | undefined;
}

/** The options of one call, as far as observing it goes. */
interface ObservedOptions {
  metadata?: Record<string, string>;
}

/** Sends one call (the channel's `Caller`). */
interface Sender<D, O> {
  call(
    desc: D,
    payload: { readonly length: number },
    decoder: Decoder,
    opts: O,
    deadline: number,
    request: unknown,
  ): Promise<unknown>;
}

/**
 * A method's counters, its metered response decoder (for the last decoder seen), and the
 * settle handlers of its untimed calls (made once: counting such a call allocates nothing).
 */
class MethodEntry {
  readonly m: MethodMetrics;
  /** Counts a call that succeeded (untimed). */
  readonly ok: (value: unknown) => unknown;
  /** Counts a call that failed (untimed). */
  readonly fail: (e: unknown) => never;
  #inner: Decoder | undefined;
  #metered: Decoder | undefined;
  constructor(m: MethodMetrics) {
    this.m = m;
    this.ok = (value) => {
      m.count(0, 0);
      return value;
    };
    this.fail = (e) => {
      m.count(codeOf(e), 0);
      throw e;
    };
  }
  /** `inner`, counting the bytes of each response it decodes. */
  decoder(inner: Decoder): Decoder {
    if (inner === this.#inner) return this.#metered!;
    const m = this.m;
    this.#inner = inner;
    this.#metered = {
      decode: (payload, borrowed) => {
        m.responseBytes += payload.length;
        return inner.decode(payload, borrowed);
      },
      onMetadata: inner.onMetadata,
      hasBytes: inner.hasBytes,
    };
    return this.#metered;
  }
}

function codeOf(e: unknown): number {
  return e instanceof RpcError && e.code >= 0 && e.code <= 16 ? e.code : Code.UNKNOWN;
}

/**
 * Records the calls of one channel.
 *
 * @example
 * ```ts ignore
 * const observer = new ClientObserver(new CallMetrics("client", { connections: () => 0 }));
 * return observer.call(caller, desc, payload, decoder, opts, deadline, request);
 * ```
 */
export class ClientObserver {
  #metrics: CallMetrics | undefined;
  #server: { host: string; port: number } | undefined;
  #entries = new WeakMap<object, MethodEntry>();

  /** Counts into `metrics` (none: tracing only); `server` is the channel's fixed provider. */
  constructor(
    metrics: CallMetrics | undefined,
    server?: { host: string; port: number } | undefined,
  ) {
    this.#metrics = metrics;
    this.#server = server;
  }

  /** Sends the call through `sender`, counting it and tracing it. */
  call<D extends { readonly service: string; readonly name: string }, O extends ObservedOptions>(
    sender: Sender<D, O>,
    desc: D,
    payload: { readonly length: number },
    decoder: Decoder,
    opts: O,
    deadline: number,
    request: unknown,
  ): Promise<unknown> {
    let span: Span | undefined;
    if (tracingEnabled()) {
      const started = startClientSpan(desc, opts.metadata, this.#server);
      span = started.span;
      opts = this.#server === undefined
        // The caller names the provider it picks on the span (TracedOptions).
        ? { ...opts, metadata: started.metadata, span }
        : { ...opts, metadata: started.metadata };
    }
    const entry = this.#entry(desc);
    if (entry === undefined) {
      const p = sender.call(desc, payload, decoder, opts, deadline, request);
      return span === undefined ? p : this.#settle(p, undefined, 0, span, 0, undefined);
    }
    const m = entry.m;
    m.begin(payload.length);
    const dec = entry.decoder(decoder);
    const ticket = m.ticket();
    if (ticket === 0 && span === undefined) {
      // Another call of this method is being timed: count this one only (no clock read, no
      // per-call allocation beyond the promise of the count).
      return sender.call(desc, payload, dec, opts, deadline, request).then(entry.ok, entry.fail);
    }
    const t0 = performance.now();
    const p = sender.call(desc, payload, dec, opts, deadline, request);
    return this.#settle(p, entry, ticket, span, t0, opts.metadata);
  }

  /**
   * Starts recording a stream of `desc` about to be opened with `metadata`: its record and the
   * metadata to send (with the span's `traceparent`), or undefined when the channel keeps no
   * metrics and tracing is off.
   */
  stream(
    desc: { readonly service: string; readonly name: string },
    metadata: Record<string, string> | undefined,
  ): { record: StreamRecord; metadata: Record<string, string> | undefined } | undefined {
    const traced = tracingEnabled();
    const metrics = this.#entry(desc)?.m;
    if (metrics === undefined && !traced) return undefined;
    let span: Span | undefined;
    if (traced) {
      const started = startClientSpan(desc, metadata, this.#server);
      span = started.span;
      metadata = started.metadata;
    }
    return { record: new StreamRecord({ side: "client", metrics, span, metadata }), metadata };
  }

  #entry(desc: { readonly service: string; readonly name: string }): MethodEntry | undefined {
    const metrics = this.#metrics;
    if (metrics === undefined) return undefined;
    let e = this.#entries.get(desc);
    if (e === undefined) {
      e = new MethodEntry(metrics.method(desc.service, desc.name));
      this.#entries.set(desc, e);
    }
    return e;
  }

  async #settle(
    p: Promise<unknown>,
    entry: MethodEntry | undefined,
    ticket: number,
    span: Span | undefined,
    t0: number,
    metadata: Record<string, string> | undefined,
  ): Promise<unknown> {
    try {
      const value = await p;
      if (entry !== undefined) {
        const ms = performance.now() - t0;
        const m = entry.m;
        m.release(ticket);
        m.end(0, ms, 0);
        if (ms >= m.slowMs) m.keep("client", 0, ms, undefined, metadata, undefined);
      }
      if (span !== undefined) endSpan(span, false, 0);
      return value;
    } catch (e) {
      const code = codeOf(e);
      if (entry !== undefined) {
        const ms = performance.now() - t0;
        entry.m.release(ticket);
        entry.m.end(code, ms, 0);
        entry.m.keep("client", code, ms, undefined, metadata, errorMessage(e));
      }
      if (span !== undefined) endSpan(span, false, code, errorMessage(e));
      throw e;
    }
  }
}
