/**
 * One timer for many deadlines. Thousands of outstanding calls with deadlines share a single
 * interval that ticks only while deadlines are pending, instead of a timer per call.
 *
 * @module
 */

/** A link of the wheel's intrusive lists: an entry, or the head of a slot's list. */
export interface WheelLink {
  /** List bookkeeping, owned by the wheel. */
  wheelPrev?: WheelLink | undefined;
  /** List bookkeeping, owned by the wheel. */
  wheelNext?: WheelLink | undefined;
}

/** Something with a deadline; `expire()` runs once when it passes, unless removed first. */
export interface Expirable extends WheelLink {
  /** `Date.now()`-based time at which to expire. */
  deadline: number;
  /** Called from the wheel's tick once the deadline has passed. */
  expire(): void;
  /** Slot bookkeeping, owned by the wheel. */
  wheelSlot?: number | undefined;
}

/**
 * The head of one slot's list of entries (a ring: `wheelNext` is the first entry, `wheelPrev` the
 * last). Entries are linked into it, so adding and removing allocate nothing, and the head is
 * dropped once its last entry has left: a slot's bookkeeping lives as long as its calls, not
 * until its deadline (objects kept for a whole timeout would be promoted to the old generation).
 * The one exception is the slot new entries go to: emptied, it stays until entries move on to a
 * later slot, so one call at a time does not make and drop a head (and two `Map` writes) per call.
 */
class SlotHead implements WheelLink {
  wheelPrev: WheelLink = this;
  wheelNext: WheelLink = this;
  constructor(readonly slot: number) {}
}

function unlink(e: WheelLink): void {
  const prev = e.wheelPrev!;
  const next = e.wheelNext!;
  prev.wheelNext = next;
  next.wheelPrev = prev;
  e.wheelPrev = undefined;
  e.wheelNext = undefined;
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
  #slots = new Map<number, SlotHead>();
  /** The head entries were last added to (calls of a burst share a slot): saves a lookup. */
  #last: SlotHead | undefined;
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

  /** Schedules `e.expire()` at `e.deadline` (an entry already waiting is moved). */
  add(e: Expirable): void {
    if (e.wheelSlot !== undefined) this.remove(e);
    // An idle wheel's cursor is stale: bring it to now first, so a past deadline lands ahead of it.
    if (this.#timer === undefined) this.#cursor = Math.floor(this.#now() / this.#res);
    let slot = Math.ceil(e.deadline / this.#res);
    if (slot <= this.#cursor) slot = this.#cursor + 1;
    let head = this.#last;
    if (head === undefined || head.slot !== slot) {
      // The slot entries went to until now, if emptied, was kept only for reuse: forget it.
      if (head !== undefined && head.wheelNext === head) this.#forget(head);
      head = this.#slots.get(slot);
      if (head === undefined) this.#slots.set(slot, head = new SlotHead(slot));
      this.#last = head;
    }
    const tail = head.wheelPrev;
    e.wheelPrev = tail;
    e.wheelNext = head;
    tail.wheelNext = e;
    head.wheelPrev = e;
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
    const prev = e.wheelPrev!;
    unlink(e);
    this.#count--;
    // The slot's last entry left: forget the slot, unless new entries go there (`add` forgets
    // it once they move on, a tick once it is due).
    if (prev instanceof SlotHead && prev.wheelNext === prev && prev !== this.#last) {
      this.#forget(prev);
    }
  }

  /** Expires everything due; called by the interval (public for tests with a fake clock). */
  tick = (): void => {
    const target = Math.floor(this.#now() / this.#res);
    for (let s = this.#cursor + 1; s <= target && this.#count > 0; s++) {
      const head = this.#slots.get(s);
      if (head === undefined) continue;
      this.#slots.delete(s);
      if (this.#last === head) this.#last = undefined;
      // An expiry may remove other entries of this list (closing a connection fails its calls):
      // take the first entry each time.
      for (let e = head.wheelNext; e !== head; e = head.wheelNext) {
        const x = e as Expirable;
        unlink(x);
        x.wheelSlot = undefined;
        this.#count--;
        x.expire();
      }
    }
    this.#cursor = target;
    if (this.#count === 0) {
      this.#slots.clear();
      this.#last = undefined;
      // Stay armed a little while so back-to-back calls do not create a timer each.
      if (++this.#idleTicks > 50) this.#stop();
    }
  };

  /** Stops the timer and forgets every entry without expiring them. Idempotent. */
  close(): void {
    this.#stop();
    for (const head of this.#slots.values()) {
      for (let e = head.wheelNext; e !== head; e = head.wheelNext) {
        unlink(e);
        (e as Expirable).wheelSlot = undefined;
      }
    }
    this.#slots.clear();
    this.#last = undefined;
    this.#count = 0;
  }

  /** Drops an empty slot's head (unless a tick already took it). */
  #forget(head: SlotHead): void {
    if (this.#slots.get(head.slot) === head) this.#slots.delete(head.slot);
  }

  #stop(): void {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
