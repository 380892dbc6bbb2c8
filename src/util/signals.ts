/**
 * The one home for "wait for a promise, unless an AbortSignal fires first, and always clean up",
 * and for a call's deadline as an AbortSignal.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";

/**
 * Settles like `promise`, or rejects as soon as `signal` aborts, whichever comes first. The abort
 * listener is removed the moment either happens, so a long-lived signal shared by many waits
 * never collects listeners. `promise` itself goes on (it may be shared with other waiters); its
 * rejection after the abort is handled, never reported as unhandled.
 *
 * The rejection on abort is `onAbort(signal.reason)` when given, else `signal.reason`.
 *
 * @example Abandoning a wait
 * ```ts
 * import { raceSignal } from "./signals.ts";
 * const ac = new AbortController();
 * const never = new Promise<never>(() => {});
 * const waiting = raceSignal(never, ac.signal, () => new Error("gave up"));
 * ac.abort();
 * const err = await waiting.catch((e) => e);
 * if (err.message !== "gave up") throw new Error("expected the abort's error");
 * ```
 */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort?: (reason: unknown) => unknown,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {}); // abandoned: its outcome is no longer wanted
    return Promise.reject(onAbort ? onAbort(signal.reason) : signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      signal.removeEventListener("abort", abort); // (once: already gone; explicit for clarity)
      promise.catch(() => {}); // abandoned: its outcome is no longer wanted
      reject(onAbort ? onAbort(signal.reason) : signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", abort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", abort);
        reject(e);
      },
    );
  });
}

/** A signal that bounds one call, and the cleanup that releases its timer and listener. */
export interface CallSignal {
  /**
   * Aborts with an {@linkcode RpcError}: `DEADLINE_EXCEEDED` at the deadline, `CANCELLED` when
   * the caller's signal aborts (or the caller's own reason when that is an `RpcError`).
   */
  readonly signal: AbortSignal;
  /** Clears the deadline timer and the listener on the caller's signal. Idempotent. */
  cleanup(): void;
  /** Aborts `signal` with `reason` now (e.g. the channel closes); also cleans up. */
  abort(reason: RpcError): void;
}

/**
 * One signal for a call's deadline (a `Date.now()` timestamp, 0 for none) and its caller's
 * signal. Call `cleanup()` in a `finally`.
 *
 * @example A deadline 10 ms from now
 * ```ts
 * import { callSignal } from "./signals.ts";
 * import { Code, RpcError } from "../errors.ts";
 * const call = callSignal(undefined, Date.now() + 10);
 * try {
 *   await new Promise((r) => call.signal.addEventListener("abort", r, { once: true }));
 *   const reason = call.signal.reason;
 *   if (!(reason instanceof RpcError) || reason.code !== Code.DEADLINE_EXCEEDED) throw reason;
 * } finally {
 *   call.cleanup();
 * }
 * ```
 */
export function callSignal(signal: AbortSignal | undefined, deadline: number): CallSignal {
  const ac = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cleanup = () => {
    clearTimeout(timer);
    timer = undefined;
    signal?.removeEventListener("abort", onCancel);
  };
  const onCancel = () => {
    cleanup();
    ac.abort(abortReason(signal!.reason));
  };
  const abort = (reason: RpcError) => {
    cleanup();
    ac.abort(reason);
  };
  if (signal?.aborted) {
    onCancel();
    return { signal: ac.signal, cleanup, abort };
  }
  signal?.addEventListener("abort", onCancel, { once: true });
  if (deadline > 0) {
    const expire = () => abort(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
    const ms = deadline - Date.now();
    if (ms <= 0) expire();
    else timer = setTimeout(expire, ms);
  }
  return { signal: ac.signal, cleanup, abort };
}

/**
 * The error for an abort: `reason` itself when it is an {@linkcode RpcError}, else `CANCELLED`
 * with `message` (the reason as its cause).
 *
 * @example
 * ```ts
 * import { abortReason } from "./signals.ts";
 * import { Code } from "../errors.ts";
 * const ac = new AbortController();
 * ac.abort();
 * if (abortReason(ac.signal.reason).code !== Code.CANCELLED) throw new Error();
 * ```
 */
export function abortReason(reason: unknown, message = "cancelled by the caller"): RpcError {
  return reason instanceof RpcError ? reason : new RpcError(Code.CANCELLED, message, {
    cause: reason,
  });
}
