/**
 * Load balancers: how a channel picks a provider among the healthy ones of a service.
 *
 * @module
 */

/** What a balancer sees of one provider. */
export interface Candidate {
  /** `host:port`. */
  readonly key: string;
  /** Relative weight (≥ 1). */
  readonly weight: number;
  /** Calls in flight to it from this channel. */
  readonly inflight: number;
}

/** Picks one of `candidates` (never empty) for a call; `hashKey` is set for consistent hashing. */
export interface Balancer {
  /** Chooses the provider for one call. */
  pick<C extends Candidate>(candidates: readonly C[], hashKey: string | undefined): C;
}

/** Names of the built-in balancers. */
export type BalancerName = "round_robin" | "random" | "least_inflight" | "consistent_hash";

/**
 * Smooth weighted round robin (as nginx and Dubbo): with weights 5,1,1 the order is
 * a a b a c a a, never five a's in a row.
 */
export class RoundRobinBalancer implements Balancer {
  #current = new Map<string, number>();
  #i = 0;
  pick<C extends Candidate>(candidates: readonly C[]): C {
    const n = candidates.length;
    if (n === 1) return candidates[0]!;
    let uniform = true;
    for (const c of candidates) if (c.weight !== 1) uniform = false;
    if (uniform) return candidates[this.#i++ % n]!;
    let total = 0;
    let best: C = candidates[0]!;
    let bestWeight = -Infinity;
    for (const c of candidates) {
      const cw = (this.#current.get(c.key) ?? 0) + c.weight;
      this.#current.set(c.key, cw);
      total += c.weight;
      if (cw > bestWeight) {
        bestWeight = cw;
        best = c;
      }
    }
    this.#current.set(best.key, bestWeight - total);
    return best;
  }
}

/** Weighted random. */
export class RandomBalancer implements Balancer {
  #random: () => number;
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }
  pick<C extends Candidate>(candidates: readonly C[]): C {
    let total = 0;
    for (const c of candidates) total += c.weight;
    let r = this.#random() * total;
    for (const c of candidates) {
      r -= c.weight;
      if (r < 0) return c;
    }
    return candidates[candidates.length - 1]!;
  }
}

/** Fewest calls in flight relative to weight; ties broken round robin. */
export class LeastInflightBalancer implements Balancer {
  #i = 0;
  pick<C extends Candidate>(candidates: readonly C[]): C {
    const n = candidates.length;
    const start = this.#i++ % n;
    let best = candidates[start]!;
    let bestScore = best.inflight / best.weight;
    for (let k = 1; k < n; k++) {
      const c = candidates[(start + k) % n]!;
      const score = c.inflight / c.weight;
      if (score < bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  }
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche so close keys spread over the ring.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * Consistent hashing over a ring of 160 virtual nodes per unit of weight (as Dubbo): a key
 * keeps going to the same provider while it is up, and only the keys of a provider that leaves
 * move. Calls without a key are spread round robin.
 */
export class ConsistentHashBalancer implements Balancer {
  #ringFor = "";
  #ring: Array<{ h: number; key: string }> = [];
  #fallback = new RoundRobinBalancer();
  #replicas: number;
  constructor(replicas = 160) {
    this.#replicas = replicas;
  }
  pick<C extends Candidate>(candidates: readonly C[], hashKey: string | undefined): C {
    if (hashKey === undefined) return this.#fallback.pick(candidates);
    const id = candidates.map((c) => `${c.key}*${c.weight}`).join(",");
    if (id !== this.#ringFor) {
      this.#ringFor = id;
      this.#ring = [];
      for (const c of candidates) {
        for (let i = 0; i < this.#replicas * c.weight; i++) {
          this.#ring.push({ h: fnv1a(`${c.key}#${i}`), key: c.key });
        }
      }
      this.#ring.sort((a, b) => a.h - b.h);
    }
    const h = fnv1a(hashKey);
    let lo = 0;
    let hi = this.#ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ring[mid]!.h < h) lo = mid + 1;
      else hi = mid;
    }
    const key = (this.#ring[lo] ?? this.#ring[0]!).key;
    return candidates.find((c) => c.key === key)!;
  }
}

/**
 * Creates a built-in balancer by name.
 *
 * @example
 * ```ts
 * import { createBalancer } from "./balancer.ts";
 * const lb = createBalancer("round_robin");
 * const a = { key: "a:1", weight: 1, inflight: 0 }, b = { key: "b:1", weight: 1, inflight: 0 };
 * if (lb.pick([a, b], undefined) === lb.pick([a, b], undefined)) throw new Error();
 * ```
 */
export function createBalancer(name: BalancerName | Balancer): Balancer {
  if (typeof name === "object") return name;
  switch (name) {
    case "round_robin":
      return new RoundRobinBalancer();
    case "random":
      return new RandomBalancer();
    case "least_inflight":
      return new LeastInflightBalancer();
    case "consistent_hash":
      return new ConsistentHashBalancer();
    default:
      throw new TypeError(
        `Unknown load balancer "${name}": use round_robin, random, least_inflight or consistent_hash`,
      );
  }
}
