/**
 * Receive buffers a connection can lend: the arrays it reads frames into, each counting the
 * leases on it, and a pool of the ones given back, shared by every connection of the event loop
 * ({@linkcode sharedReceivePool}). A lent buffer is not read into again until every lease on it
 * has been released, so what was decoded out of it as views stays intact for as long as the
 * borrower holds it; a buffer whose borrower never gives it back is simply not reused (the
 * garbage collector frees it like any other).
 *
 * @module
 */

/** Size classes are spaced an eighth of a power of two apart (at most 12.5% unused). */
const CLASS_STEPS = 8;
/** Smallest size class (smaller requests get a buffer of this size). */
const MIN_CLASS = 4 * 1024;
/**
 * Default bytes of given-back buffers a pool keeps for reuse: what the shared pool of an event
 * loop holds at most, however many connections lend.
 */
export const DEFAULT_MAX_POOLED_BYTES = 4 * 1024 * 1024;

/** What one connection's read buffers, moved on from while still lent, add up to. */
export interface HeldReadBytes {
  heldReadBytes: number;
}

/**
 * A lease on a receive buffer: what was decoded out of the buffer as views stays valid until
 * {@linkcode ReceiveLease.release} is called.
 */
export interface ReceiveLease {
  /**
   * Gives the buffer back (to be read into again once no lease is left on it). Only the first
   * call counts: releasing a lease again never ends another holder's lease on the same buffer.
   */
  release(): void;
}

/** One lease on one buffer, released at most once. */
class Lease implements ReceiveLease {
  #buffer: ReceiveBuffer | undefined;

  constructor(buffer: ReceiveBuffer) {
    this.#buffer = buffer;
  }

  release(): void {
    const b = this.#buffer;
    if (b === undefined) return;
    this.#buffer = undefined;
    if (--b.leases === 0 && !b.busy) b.pool.returned(b);
  }
}

/**
 * One receive buffer: `bytes` is its whole capacity. While `busy` (it is the read buffer, or a
 * frame body being filled) it goes back to the pool only when its owner lets go of it.
 *
 * @example
 * ```ts
 * import { ReceiveBufferPool } from "./receive_buffers.ts";
 * const pool = new ReceiveBufferPool();
 * const b = pool.take(10_000);
 * b.lend().release();
 * pool.done(b); // lent and given back: reused by the next take of that size
 * if (pool.take(10_000) !== b) throw new Error("not reused");
 * ```
 */
export class ReceiveBuffer {
  /** Leases not yet released. */
  leases = 0;
  /** Ever lent since it was taken from the pool (only a lent buffer comes back). */
  lent = false;
  /** Still written by the connection. */
  busy = true;
  /** Where it is counted while it is a read buffer moved on from and still lent. */
  held: HeldReadBytes | undefined = undefined;

  /** A buffer of `bytes.length` bytes belonging to `pool`. */
  constructor(readonly pool: ReceiveBufferPool, readonly bytes: Uint8Array) {}

  /** Takes a lease on it (a new one each call, each released on its own). */
  lend(): ReceiveLease {
    this.leases++;
    this.lent = true;
    return new Lease(this);
  }
}

/**
 * Buffers given back, by size class, up to a total of `maxPooledBytes`.
 *
 * @example
 * ```ts
 * import { ReceiveBufferPool } from "./receive_buffers.ts";
 * const pool = new ReceiveBufferPool();
 * const b = pool.take(65_556);
 * if (b.bytes.length < 65_556) throw new Error("too small");
 * ```
 */
export class ReceiveBufferPool {
  #free = new Map<number, ReceiveBuffer[]>();
  #freeBytes = 0;
  #maxPooledBytes: number;

  /** A pool keeping at most `maxPooledBytes` of idle buffers. */
  constructor(maxPooledBytes: number = DEFAULT_MAX_POOLED_BYTES) {
    this.#maxPooledBytes = maxPooledBytes;
  }

  /** Bytes of idle buffers kept. */
  get pooledBytes(): number {
    return this.#freeBytes;
  }

  /** A buffer of at least `size` bytes, reused when one of its size class was given back. */
  take(size: number): ReceiveBuffer {
    const cls = sizeClass(size);
    const b = this.#free.get(cls)?.pop();
    if (b !== undefined) {
      this.#freeBytes -= cls;
      b.busy = true;
      b.lent = false;
      return b;
    }
    if (this.#freeBytes > this.#maxPooledBytes / 2) {
      // Idle buffers of sizes no longer asked for would hold the pool's room forever.
      this.#free.clear();
      this.#freeBytes = 0;
    }
    return new ReceiveBuffer(this, new Uint8Array(cls));
  }

  /**
   * The connection no longer writes into `b`: it comes back now if it was lent and every lease
   * is released, or later when the last one is; a buffer never lent stays with whoever holds
   * what was decoded out of it. A read buffer still lent counts in `readBuffer` (its
   * connection's count) until then.
   */
  done(b: ReceiveBuffer, readBuffer?: HeldReadBytes): void {
    b.busy = false;
    if (b.leases > 0) {
      if (readBuffer !== undefined) {
        b.held = readBuffer;
        readBuffer.heldReadBytes += b.bytes.length;
      }
    } else if (b.lent) this.give(b);
  }

  /** The last lease on `b`, which the connection is done with, was released. */
  returned(b: ReceiveBuffer): void {
    if (b.held !== undefined) {
      b.held.heldReadBytes -= b.bytes.length;
      b.held = undefined;
    }
    this.give(b);
  }

  /**
   * Puts an idle buffer back: dropped when the pool is full, or when its length is not a size
   * class (a read buffer the connection made before it lent: no `take` would ever find it).
   */
  give(b: ReceiveBuffer): void {
    const cls = b.bytes.length;
    if (cls !== sizeClass(cls) || this.#freeBytes + cls > this.#maxPooledBytes) return;
    let list = this.#free.get(cls);
    if (list === undefined) this.#free.set(cls, list = []);
    list.push(b);
    this.#freeBytes += cls;
  }
}

/** The size class of `size`: the next multiple of an eighth of the power of two below it. */
export function sizeClass(size: number): number {
  if (size <= MIN_CLASS) return MIN_CLASS;
  const pow = 2 ** Math.floor(Math.log2(size - 1));
  const step = pow / CLASS_STEPS;
  return Math.ceil(size / step) * step;
}

let shared: ReceiveBufferPool | undefined;

/**
 * The pool every lending connection of this event loop (the main thread, or one Worker) takes
 * its buffers from and gives them back to, keeping at most {@linkcode DEFAULT_MAX_POOLED_BYTES}
 * idle: what lending holds idle does not grow with the number of connections.
 *
 * @example
 * ```ts
 * import { sharedReceivePool } from "./receive_buffers.ts";
 * if (sharedReceivePool() !== sharedReceivePool()) throw new Error("one pool per event loop");
 * ```
 */
export function sharedReceivePool(): ReceiveBufferPool {
  return shared ??= new ReceiveBufferPool();
}
