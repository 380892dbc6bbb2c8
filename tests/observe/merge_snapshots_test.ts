import assert from "node:assert/strict";
import { CallMetrics, type MetricsSnapshot } from "../../src/observe/metrics.ts";
import { mergeRecentCalls, mergeSnapshots } from "../../src/observe/merge_snapshots.ts";
import type { RecentCall } from "../../src/observe/recent_calls.ts";

function loop(connections: number, calls: [method: string, code: number, ms: number][]) {
  const metrics = new CallMetrics("server", { connections: () => connections });
  for (const [method, code, ms] of calls) {
    const m = metrics.method("demo.Echo", method);
    m.begin(10);
    m.end(code, ms, 20);
  }
  return metrics.snapshot();
}

Deno.test("mergeSnapshots adds every counter of the same method and keeps the methods one loop alone has, in the order first seen", () => {
  const main = loop(1, [["Say", 0, 0.2], ["Say", 14, 3]]);
  const worker = loop(2, [["Shout", 0, 50], ["Say", 0, 0.2]]);
  const before = structuredClone(main);
  const all = mergeSnapshots(main, [worker]);
  assert.deepEqual(main, before, "the inputs are not changed");
  assert.deepEqual(all.methods.map((m) => m.method), ["Say", "Shout"]);
  const say = all.methods[0]!;
  assert.deepEqual(say.calls, { OK: 2, UNAVAILABLE: 1 });
  assert.equal(say.requestBytes, 30);
  assert.equal(say.responseBytes, 60);
  assert.equal(say.inflight, 0);
  assert.equal(say.latency.count, 3);
  assert.ok(Math.abs(say.latency.sumSeconds - 0.0034) < 1e-12, String(say.latency.sumSeconds));
  const expected = main.methods[0]!.latency.buckets.map((n, i) =>
    n + worker.methods[1]!.latency.buckets[i]!
  );
  assert.deepEqual(say.latency.buckets, expected);
  assert.deepEqual(all.methods[1], worker.methods[0]);
  assert.equal(all.connections, 3);
  assert.equal(all.side, "server");
});

Deno.test("mergeSnapshots keeps the first snapshot's names and ZooKeeper session and adds numbers it does not know of", () => {
  const main: MetricsSnapshot & { streams: number } = {
    ...loop(0, []),
    zookeeper: { state: "connected", reconnects: 1, sessionsReplaced: 0, reregistrations: 2 },
    loggerDropped: 4,
    streams: 2,
  };
  const worker = { ...loop(0, []), streams: 5 };
  const all = mergeSnapshots(main, [worker, worker]) as typeof main;
  assert.deepEqual(all.zookeeper, main.zookeeper);
  assert.equal(all.loggerDropped, 4);
  assert.equal(all.streams, 12);
});

Deno.test("a merged counter never goes down when a Worker's snapshot is replaced by its next one", () => {
  const main = loop(0, [["Say", 0, 1]]);
  const first = loop(0, [["Say", 0, 1]]);
  const next = loop(0, [["Say", 0, 1], ["Say", 0, 1]]);
  const ok = (s: MetricsSnapshot) => s.methods[0]!.calls["OK"];
  assert.equal(ok(mergeSnapshots(main, [first])), 2);
  assert.equal(ok(mergeSnapshots(main, [next])), 3);
  assert.equal(ok(mergeSnapshots(main, [])), 1);
});

Deno.test("mergeRecentCalls keeps the newest calls of every loop, newest first, up to the limit", () => {
  const call = (at: number): RecentCall => ({
    at,
    side: "server",
    service: "demo.Echo",
    method: "Say",
    code: 13,
    ms: 1,
  });
  const merged = mergeRecentCalls([
    { loop: 0, calls: [call(9), call(4), call(1)] },
    { loop: 1, calls: [call(7), call(2)] },
    { loop: 2, calls: [] },
  ], 4);
  assert.deepEqual(merged.map((c) => c.at), [9, 7, 4, 2]);
  const sixty = (from: number) => Array.from({ length: 60 }, (_, i) => call(from - i));
  const kept = mergeRecentCalls([
    { loop: 0, calls: sixty(1000) },
    { loop: 1, calls: sixty(2000) },
    { loop: 2, calls: sixty(3000) },
  ]);
  assert.equal(kept.length, 100, "DEFAULT_RECENT_CALLS, as one loop's ring keeps");
  assert.equal(kept[0]!.at, 3000);
  assert.equal(kept[99]!.at, 1961);
});

Deno.test("mergeRecentCalls marks each call with the loop that served it, leaving the input as it was", () => {
  const call = (at: number): RecentCall => ({
    at,
    side: "server",
    service: "demo.Echo",
    method: "Say",
    code: 13,
    ms: 1,
  });
  const main = [call(5), call(2)];
  const worker = [call(4)];
  const merged = mergeRecentCalls([{ loop: 0, calls: main }, { loop: 3, calls: worker }]);
  assert.deepEqual(merged.map((c) => [c.at, c.loop]), [[5, 0], [4, 3], [2, 0]]);
  assert.ok(main.every((c) => c.loop === undefined) && worker[0]!.loop === undefined);
});
