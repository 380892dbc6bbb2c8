/**
 * The calls in flight on a connection, in an array indexed by the low bits of their call id.
 *
 * A `Map` would do, but its hash table is replaced as entries come and go, and each table it
 * leaves behind points to the next: once one of them is promoted to the old generation, every
 * later table, and every call any of them held (request, promise, response), survives the
 * scavenges until the next full collection. Under load that turns per-call garbage into old
 * generation garbage. An array slot is simply cleared.
 *
 * @module
 */

/** What the slab holds: anything with a call id (1..2^32-1). */
export interface SlabEntry {
  /** The call id; 0 = not in a slab. */
  id: number;
}

/**
 * Entries by id. Ids are handed out in sequence by the owner, which skips an id whose slot is
 * taken ({@linkcode CallSlab.slotFree}); the array doubles when half full, so few are skipped.
 *
 * @example
 * ```ts
 * import { CallSlab } from "./call_slab.ts";
 * const slab = new CallSlab<{ id: number }>();
 * const call = { id: 7 };
 * slab.add(call);
 * const held = slab.size;
 * slab.delete(call);
 * if (held !== 1 || slab.get(7) !== undefined || slab.size !== 0) throw new Error();
 * ```
 */
export class CallSlab<T extends SlabEntry> {
  #slots: Array<T | undefined>;
  #mask: number;
  #size = 0;

  /** An empty slab of `capacity` slots (rounded up to a power of two; it grows as needed). */
  constructor(capacity = 64) {
    let n = 8;
    while (n < capacity) n *= 2;
    this.#slots = new Array<T | undefined>(n).fill(undefined);
    this.#mask = n - 1;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** The entry with call id `id`, if held. */
  get(id: number): T | undefined {
    const e = this.#slots[id & this.#mask];
    return e !== undefined && e.id === id ? e : undefined;
  }

  /** True when an entry with id `id` could be added without moving another. */
  slotFree(id: number): boolean {
    return this.#slots[id & this.#mask] === undefined;
  }

  /**
   * Adds `e` under `e.id`, whose slot must be free ({@linkcode CallSlab.slotFree}).
   *
   * @throws {RangeError} when the slot is taken.
   */
  add(e: T): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    const i = e.id & this.#mask;
    if (this.#slots[i] !== undefined) {
      throw new RangeError(`call id ${e.id}: its slot holds call ${this.#slots[i]!.id}`);
    }
    this.#slots[i] = e;
    this.#size++;
  }

  /** Removes `e`; false when it was not held. */
  delete(e: T): boolean {
    const i = e.id & this.#mask;
    if (this.#slots[i] !== e) return false;
    this.#slots[i] = undefined;
    this.#size--;
    return true;
  }

  /**
   * Every entry, oldest first: in the order of their ids counted from `nextId` (the id the
   * owner hands out next) around the 32-bit circle, i.e. the order in which they were sent.
   */
  values(nextId: number): T[] {
    const out: T[] = [];
    for (const e of this.#slots) if (e !== undefined) out.push(e);
    return out.sort((a, b) => ((a.id - nextId) >>> 0) - ((b.id - nextId) >>> 0));
  }

  #grow(): void {
    const old = this.#slots;
    const n = old.length * 2;
    // Ids distinct in the low bits of the old mask stay distinct in the wider one.
    this.#slots = new Array<T | undefined>(n).fill(undefined);
    this.#mask = n - 1;
    for (const e of old) if (e !== undefined) this.#slots[e.id & this.#mask] = e;
  }
}
