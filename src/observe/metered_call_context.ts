/**
 * The handler context of a call whose method keeps metrics: it remembers when the call started
 * (high resolution) and how it was aborted, and records the call's end once.
 *
 * @module
 */
import type { RpcError } from "../errors.ts";
import { CallContext, type CallSite, type CallStart } from "../server/call_context.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import type { MethodMetrics } from "./method_metrics.ts";

/**
 * A {@linkcode CallContext} that counts its call in `metrics` (started in the constructor,
 * ended by {@linkcode MeteredCallContext.done}).
 *
 * @example
 * ```ts ignore
 * const ctx = new MeteredCallContext(desc, meta, site, route.metrics, payload.length);
 * // ... the handler runs ...
 * ctx.done(0, responseBytes.length);
 * ```
 */
export class MeteredCallContext extends CallContext {
  /** The method's counters. */
  readonly metrics: MethodMetrics;
  /** `performance.now()` at the start, or -1 when the call is not timed. */
  readonly t0: number;
  /** The code of the abort, if the call was aborted (cancelled, timed out, shut down). */
  #abortCode = -1;
  /** The timing ticket, 0 when the call is not timed. */
  #ticket: number;

  /** Counts a call of `metrics`' method with a request body of `requestBytes`. */
  constructor(
    desc: { readonly service: string; readonly name: string },
    request: CallStart,
    site: CallSite,
    metrics: MethodMetrics,
    requestBytes: number,
  ) {
    super(desc, request, site);
    this.metrics = metrics;
    // One call per method at a time is timed (see MethodMetrics.ticket).
    this.#ticket = metrics.ticket(this.startedAt);
    this.t0 = this.#ticket === 0 ? -1 : performance.now();
    metrics.begin(requestBytes);
  }

  /** @internal Aborts the call with `reason`, remembering its code. */
  override abort(reason: RpcError): void {
    if (this.#abortCode === -1) this.#abortCode = reason.code;
    super.abort(reason);
  }

  /**
   * The call ended with `code` (-1: the code it was aborted with; an abort before an OK answer
   * wins too) and a response body of
   * `responseBytes`; a failed or slow call is kept for `/rpcz` with its `error`.
   */
  done(code: number, responseBytes: number, error?: string): void {
    // Aborted first (past its deadline, cancelled, shut down): that is how the call ended,
    // whatever the handler returned afterwards.
    if (this.#abortCode !== -1 && code <= 0) code = this.#abortCode;
    else if (code === -1) code = 1; // CANCELLED
    const m = this.metrics;
    let ms: number;
    if (this.t0 < 0) {
      m.count(code, responseBytes);
      if (code === 0) return;
      ms = Date.now() - this.startedAt; // a failed untimed call: ms resolution will do
    } else {
      ms = performance.now() - this.t0;
      m.release(this.#ticket);
      m.end(code, ms, responseBytes);
    }
    if (code !== 0 || ms >= m.slowMs) {
      m.keep("server", code, ms, endpointKey(this.peer), this.metadata, error);
    }
  }
}
