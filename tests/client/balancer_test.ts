import assert from "node:assert/strict";
import {
  type Candidate,
  ConsistentHashBalancer,
  createBalancer,
  LeastInflightBalancer,
  RandomBalancer,
  RoundRobinBalancer,
} from "../../src/client/balancer.ts";

function cand(key: string, weight = 1, inflight = 0): Candidate {
  return { key, weight, inflight };
}

function counts(picks: Candidate[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) out[p.key] = (out[p.key] ?? 0) + 1;
  return out;
}

Deno.test("round robin spreads calls evenly over equal providers, in turn", () => {
  const lb = new RoundRobinBalancer();
  const list = [cand("a:1"), cand("b:1"), cand("c:1")];
  const picks = Array.from({ length: 300 }, () => lb.pick(list));
  assert.deepEqual(counts(picks), { "a:1": 100, "b:1": 100, "c:1": 100 });
  assert.deepEqual(picks.slice(0, 6).map((p) => p.key), ["a:1", "b:1", "c:1", "a:1", "b:1", "c:1"]);
  assert.equal(lb.pick([list[1]!]), list[1], "a single candidate is always picked");
});

Deno.test("smooth weighted round robin with weights 5,1,1 gives a a b a c a a", () => {
  const lb = new RoundRobinBalancer();
  const list = [cand("a", 5), cand("b", 1), cand("c", 1)];
  const seq = Array.from({ length: 14 }, () => lb.pick(list).key).join(" ");
  assert.equal(seq, "a a b a c a a a a b a c a a");
});

Deno.test("smooth weighted round robin honours weights over many picks", () => {
  const lb = new RoundRobinBalancer();
  const list = [cand("x", 3), cand("y", 2), cand("z", 1)];
  const c = counts(Array.from({ length: 600 }, () => lb.pick(list)));
  assert.deepEqual(c, { x: 300, y: 200, z: 100 });
});

Deno.test("random balancer picks by weight with the injected random source", () => {
  const list = [cand("a", 1), cand("b", 3)];
  // total weight 4: r*4 in [0,1) → a, [1,4) → b
  const cases: Array<[number, string]> = [[0, "a"], [0.2499, "a"], [0.25, "b"], [0.6, "b"], [
    0.9999,
    "b",
  ]];
  for (const [r, key] of cases) {
    assert.equal(new RandomBalancer(() => r).pick(list).key, key, `random ${r}`);
  }
  let i = 0;
  const seq = [0.1, 0.3, 0.5, 0.7, 0.9];
  const lb = new RandomBalancer(() => seq[i++ % seq.length]!);
  assert.deepEqual(
    Array.from({ length: 5 }, () => lb.pick([cand("p"), cand("q")]).key),
    ["p", "p", "q", "q", "q"],
  );
});

Deno.test("least_inflight picks the idlest provider, relative to weight", () => {
  const lb = new LeastInflightBalancer();
  for (let i = 0; i < 6; i++) {
    assert.equal(lb.pick([cand("a", 1, 5), cand("b", 1, 1), cand("c", 1, 3)]).key, "b");
  }
  // b has 4 in flight with weight 4 (score 1); a has 2 with weight 1 (score 2).
  assert.equal(lb.pick([cand("a", 1, 2), cand("b", 4, 4)]).key, "b");
  // Ties rotate.
  const tied = [cand("a"), cand("b"), cand("c")];
  assert.deepEqual(
    new Set(Array.from({ length: 3 }, () => lb.pick(tied).key)),
    new Set(["a", "b", "c"]),
  );
});

Deno.test("consistent_hash maps a key to the same provider every time", () => {
  const lb = new ConsistentHashBalancer();
  const list = ["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"].map((k) => cand(k));
  const first = new Map<string, string>();
  for (let i = 0; i < 500; i++) first.set(`user-${i}`, lb.pick(list, `user-${i}`).key);
  const spread = counts([...first.values()].map((k) => cand(k)));
  for (const c of list) {
    assert.ok((spread[c.key] ?? 0) > 50, `uneven spread ${JSON.stringify(spread)}`);
  }
  // Another instance, candidates in another order: same mapping.
  const other = new ConsistentHashBalancer();
  const reversed = [...list].reverse();
  for (const [key, provider] of first) assert.equal(other.pick(reversed, key).key, provider, key);
});

Deno.test("consistent_hash moves only the keys of a removed provider", () => {
  const lb = new ConsistentHashBalancer();
  const list = ["a:1", "b:1", "c:1", "d:1"].map((k) => cand(k));
  const before = new Map<string, string>();
  for (let i = 0; i < 1000; i++) before.set(`k${i}`, lb.pick(list, `k${i}`).key);
  const without = list.filter((c) => c.key !== "c:1");
  let moved = 0;
  for (const [key, was] of before) {
    const now = lb.pick(without, key).key;
    assert.notEqual(now, "c:1");
    if (was !== "c:1") assert.equal(now, was, `${key} moved from ${was} to ${now}`);
    else moved++;
  }
  assert.ok(moved > 0, "c had some keys");
  // And it comes back to the same mapping when c returns.
  for (const [key, was] of before) assert.equal(lb.pick(list, key).key, was);
});

Deno.test("consistent_hash without a key falls back to round robin", () => {
  const lb = new ConsistentHashBalancer();
  const list = [cand("a"), cand("b")];
  assert.deepEqual(Array.from({ length: 4 }, () => lb.pick(list, undefined).key), [
    "a",
    "b",
    "a",
    "b",
  ]);
});

Deno.test("createBalancer builds every named balancer, passes one through, and names a bad name", () => {
  assert.ok(createBalancer("round_robin") instanceof RoundRobinBalancer);
  assert.ok(createBalancer("random") instanceof RandomBalancer);
  assert.ok(createBalancer("least_inflight") instanceof LeastInflightBalancer);
  assert.ok(createBalancer("consistent_hash") instanceof ConsistentHashBalancer);
  const mine = { pick: <C extends Candidate>(c: readonly C[]) => c[0]! };
  assert.equal(createBalancer(mine), mine);
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => createBalancer("fastest" as any),
    (e: unknown) => e instanceof TypeError && /Unknown load balancer "fastest"/.test(e.message),
  );
});
