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
  /** `performance.now()` at the start. */
  readonly t0: number;
  /** The code of the abort, if the call was aborted (cancelled, timed out, shut down). */
  #abortCode = -1;

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
    this.t0 = performance.now();
    metrics.begin(requestBytes);
  }

  /** @internal Aborts the call with `reason`, remembering its code. */
  override abort(reason: RpcError): void {
    if (this.#abortCode === -1) this.#abortCode = reason.code;
    super.abort(reason);
  }

  /**
   * The call ended with `code` (-1: the code it was aborted with) and a response body of
   * `responseBytes`; a failed or slow call is kept for `/rpcz` with its `error`.
   */
  done(code: number, responseBytes: number, error?: string): void {
    if (code === -1) code = this.#abortCode === -1 ? 1 : this.#abortCode;
    const ms = performance.now() - this.t0;
    const m = this.metrics;
    m.end(code, ms, responseBytes);
    if (code !== 0 || ms >= m.slowMs) {
      m.keep("server", code, ms, endpointKey(this.peer), this.metadata, error);
    }
  }
}
