/**
 * The counters of one method on one side (provider or channel): calls by status code, a latency
 * histogram, calls in flight, request and response bytes. Made once per route (provider) or per
 * method descriptor (channel), so recording a call allocates nothing.
 *
 * @module
 */
import { LatencyHistogram } from "./histogram.ts";
import type { RecentCall, RecentCalls } from "./recent_calls.ts";

/** Status codes 0..16 (`Code`), one counter each. */
const CODES = 17;

/**
 * Untimed calls after which a new call is timed even though the timed one has not ended (it may
 * never end: a stuck handler, a call without a deadline), so the histogram keeps moving.
 */
const TAKE_OVER_AFTER = 1000;

/**
 * Counters of one method.
 *
 * @example Recording one call
 * ```ts
 * import { MethodMetrics } from "./method_metrics.ts";
 * const m = new MethodMetrics("demo.Echo", "Say");
 * m.begin(12);
 * m.end(0, 0.4, 30);
 * if (m.calls[0] !== 1 || m.inflight !== 0 || m.responseBytes !== 30) throw new Error();
 * ```
 */
export class MethodMetrics {
  /** Package-qualified service name. */
  readonly service: string;
  /** Method name as in the `.proto`. */
  readonly method: string;
  /** Finished calls per status code (index = `Code`). */
  readonly calls: Float64Array = new Float64Array(CODES);
  /** Durations of finished calls. */
  readonly latency: LatencyHistogram = new LatencyHistogram();
  /** Calls started and not finished. */
  inflight = 0;
  /** Bytes of request bodies. */
  requestBytes = 0;
  /** Bytes of response bodies. */
  responseBytes = 0;
  /** True once a streaming call of the method was recorded. */
  streaming = false;
  /** Streams: messages sent (responses on a provider, requests on a channel). */
  messagesSent = 0;
  /** Streams: messages received (requests on a provider, responses on a channel). */
  messagesReceived = 0;
  /** Where slow or failed calls are kept, if anywhere. */
  readonly recent: RecentCalls | undefined;
  /** Calls at least this long (ms) are kept in `recent`. */
  readonly slowMs: number;

  /** Counters for `service`/`method`, all zero; slow or failed calls go to `recent`. */
  constructor(service: string, method: string, recent?: RecentCalls, slowMs = Infinity) {
    this.service = service;
    this.method = method;
    this.recent = recent;
    this.slowMs = slowMs;
  }

  /** Keeps a call in `recent` when it failed or was slow (the healthy path skips this). */
  keep(
    side: RecentCall["side"],
    code: number,
    ms: number,
    peer: string | undefined,
    metadata: Record<string, string> | undefined,
    error: string | undefined,
  ): void {
    if (this.recent === undefined || (code === 0 && ms < this.slowMs)) return;
    this.recent.add({
      at: Date.now(),
      side,
      service: this.service,
      method: this.method,
      code,
      ms,
      peer,
      metadata,
      error,
    });
  }

  /** The ticket of the call being timed, 0 when none is (see {@linkcode MethodMetrics.ticket}). */
  #timed = 0;
  #tickets = 0;
  #untimed = 0;
  /** The `Date.now()` given with the last ticket. */
  #lastMs = NaN;

  /**
   * A ticket to time the call starting now, or 0 when it is not timed: one call per method at a
   * time is timed, and, when the caller passes the `Date.now()` it already read, at most one per
   * millisecond (calls handled one after another, as synchronous handlers are, would otherwise
   * all be timed). So every call is timed at low rates, and under load a sample chosen before
   * its duration is known; the clock is read for those only. The histogram counts the timed
   * calls. Give the ticket back with `release`.
   */
  ticket(nowMs: number = NaN): number {
    if (this.#timed !== 0) {
      if (++this.#untimed < TAKE_OVER_AFTER) return 0;
    } else if (nowMs === this.#lastMs) return 0;
    this.#untimed = 0;
    this.#lastMs = nowMs;
    return this.#timed = ++this.#tickets;
  }

  /** The call timed with `ticket` ended. */
  release(ticket: number): void {
    if (this.#timed === ticket) this.#timed = 0;
  }

  /** A call started with a request body of `bytes`. */
  begin(bytes: number): void {
    this.inflight++;
    this.requestBytes += bytes;
  }

  /** A call ended with status `code` after `ms` milliseconds; its response body had `bytes`. */
  end(code: number, ms: number, bytes: number): void {
    this.count(code, bytes);
    this.latency.observe(ms);
  }

  /** An untimed call ended with status `code`; its response body had `bytes`. */
  count(code: number, bytes: number): void {
    this.inflight--;
    this.calls[code >= 0 && code < CODES ? code : 2]!++; // 2 = UNKNOWN
    this.responseBytes += bytes;
  }
}
