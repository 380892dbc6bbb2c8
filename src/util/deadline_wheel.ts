/**
 * One timer for many deadlines. Thousands of outstanding calls with deadlines share a single
 * interval that ticks only while deadlines are pending, instead of a timer per call.
 *
 * @module
 */

/** Something with a deadline; `expire()` runs once when it passes, unless removed first. */
export interface Expirable {
  /** `Date.now()`-based time at which to expire. */
  deadline: number;
  /** Called from the wheel's tick once the deadline has passed. */
  expire(): void;
  /** Slot bookkeeping, owned by the wheel. */
  wheelSlot?: number | undefined;
}

/**
 * A hashed timing wheel with `resolutionMs` granularity: entries never expire early and at most
 * about one resolution late (plus event-loop lag).
 *
 * @example With an injected clock
 * ```ts
 * import { DeadlineWheel } from "./deadline_wheel.ts";
 * let now = 1000;
 * const wheel = new DeadlineWheel({ resolutionMs: 10, now: () => now });
 * let fired = false;
 * wheel.add({ deadline: 1025, expire: () => fired = true });
 * now = 1030;
 * wheel.tick();
 * wheel.close();
 * if (!fired) throw new Error("not expired");
 * ```
 */
export class DeadlineWheel {
  #res: number;
  #now: () => number;
  #slots = new Map<number, Set<Expirable>>();
  #count = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #cursor: number;
  #idleTicks = 0;

  /** Creates a wheel; `now` may be injected for tests. */
  constructor(options: { resolutionMs?: number; now?: () => number } = {}) {
    this.#res = options.resolutionMs ?? 10;
    this.#now = options.now ?? Date.now;
    this.#cursor = Math.floor(this.#now() / this.#res);
  }

  /** Entries waiting. */
  get size(): number {
    return this.#count;
  }

  /** True while the wheel's interval timer exists. */
  get ticking(): boolean {
    return this.#timer !== undefined;
  }

  /** Schedules `e.expire()` at `e.deadline`. */
  add(e: Expirable): void {
    // An idle wheel's cursor is stale: bring it to now first, so a past deadline lands ahead of it.
    if (this.#timer === undefined) this.#cursor = Math.floor(this.#now() / this.#res);
    let slot = Math.ceil(e.deadline / this.#res);
    if (slot <= this.#cursor) slot = this.#cursor + 1;
    let set = this.#slots.get(slot);
    if (set === undefined) this.#slots.set(slot, set = new Set());
    set.add(e);
    e.wheelSlot = slot;
    this.#count++;
    this.#idleTicks = 0;
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.tick, this.#res);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Cancels `e` (no-op when it already expired or was never added). */
  remove(e: Expirable): void {
    const slot = e.wheelSlot;
    if (slot === undefined) return;
    e.wheelSlot = undefined;
    if (this.#slots.get(slot)?.delete(e)) this.#count--;
  }

  /** Expires everything due; called by the interval (public for tests with a fake clock). */
  tick = (): void => {
    const target = Math.floor(this.#now() / this.#res);
    for (let s = this.#cursor + 1; s <= target && this.#count > 0; s++) {
      const set = this.#slots.get(s);
      if (set === undefined) continue;
      this.#slots.delete(s);
      for (const e of set) {
        this.#count--;
        e.wheelSlot = undefined;
        e.expire();
      }
    }
    this.#cursor = target;
    if (this.#count === 0) {
      this.#slots.clear();
      // Stay armed a little while so back-to-back calls do not create a timer each.
      if (++this.#idleTicks > 50) this.#stop();
    }
  };

  /** Stops the timer and forgets every entry without expiring them. Idempotent. */
  close(): void {
    this.#stop();
    this.#slots.clear();
    this.#count = 0;
  }

  #stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
