/**
 * The last slow or failed calls (what the admin listener's `/rpcz` shows): a fixed ring, written
 * only for calls that were slow or failed, so a healthy call path never touches it.
 *
 * @module
 */

/** One slow or failed call. */
export interface RecentCall {
  /** `Date.now()` when it ended. */
  at: number;
  /** `"server"` (served by this provider) or `"client"` (made by this channel). */
  side: "server" | "client";
  /** Package-qualified service name. */
  service: string;
  /** Method name. */
  method: string;
  /** Status code (`Code`); 0 for a slow call that succeeded. */
  code: number;
  /** How long it took, ms. */
  ms: number;
  /** The other end, `host:port`, when known. */
  peer?: string | undefined;
  /** The request metadata. */
  metadata?: Record<string, string> | undefined;
  /** The error message of a failed call. */
  error?: string | undefined;
  /**
   * The event loop that served the call, on a provider: 0 for the main thread, k for Worker k
   * (`workers: N` runs Workers 1..N-1). Set when the provider's calls are read (`/rpcz`); absent
   * on a channel's calls.
   */
  loop?: number | undefined;
}

/** How many slow or failed calls {@linkcode RecentCalls} keeps by default. */
export const DEFAULT_RECENT_CALLS = 100;

/**
 * A ring of the last slow or failed calls.
 *
 * @example
 * ```ts
 * import { RecentCalls } from "./recent_calls.ts";
 * const ring = new RecentCalls(2);
 * for (const ms of [1, 2, 3]) {
 *   ring.add({ at: ms, side: "server", service: "s", method: "m", code: 0, ms });
 * }
 * if (ring.list().map((c) => c.ms).join() !== "3,2") throw new Error("newest first, two kept");
 * ```
 */
export class RecentCalls {
  #ring: (RecentCall | undefined)[];
  #next = 0;

  /** Keeps the last `size` calls. */
  constructor(size: number = DEFAULT_RECENT_CALLS) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`size must be an integer >= 1, got ${size}`);
    }
    this.#ring = new Array(size).fill(undefined);
  }

  /** Records a call (replacing the oldest when full). */
  add(call: RecentCall): void {
    this.#ring[this.#next] = call;
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  /** The calls kept, newest first. */
  list(): RecentCall[] {
    const out: RecentCall[] = [];
    const n = this.#ring.length;
    for (let i = 1; i <= n; i++) {
      const c = this.#ring[(this.#next - i + n) % n];
      if (c !== undefined) out.push(c);
    }
    return out;
  }
}
