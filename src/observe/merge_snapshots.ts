/**
 * One provider's metrics over all its event loops (`workers > 1`): each Worker keeps its own
 * counters on its hot path and posts a {@linkcode WorkerMetrics} now and then; the main thread
 * adds the latest one of each Worker to its own with {@linkcode mergeSnapshots} and
 * {@linkcode mergeRecentCalls} (which marks each call with the loop that served it) when the
 * metrics are read.
 *
 * Every number in a {@linkcode MetricsSnapshot} is a count or a gauge that adds up over event
 * loops (calls by code, histogram buckets, sums, bytes, calls in flight, connections), so merging
 * is adding: numbers are added, arrays element by element, objects key by key; strings (the side,
 * service and method names, the ZooKeeper state) are the first snapshot's. A number added to
 * the snapshot later is merged without a change here. Each Worker's snapshot is cumulative and
 * replaced whole by its next one, so a merged counter never goes down and nothing is counted
 * twice.
 *
 * @module
 */
import type { MethodMetricsSnapshot, MetricsSnapshot } from "./metrics.ts";
import { DEFAULT_RECENT_CALLS, type RecentCall } from "./recent_calls.ts";

/** What a provider Worker posts to the main thread: its metrics and its last slow or failed calls. */
export interface WorkerMetrics {
  /** The Worker's `provider.metrics()`. */
  metrics: MetricsSnapshot;
  /** The Worker's last slow or failed calls, newest first. */
  recent: RecentCall[];
}

/**
 * `own` plus every snapshot of `others`: per method (matched by service and method, in the
 * order first seen) and per provider, every number added. `own` and `others` are not changed.
 *
 * @example Two event loops
 * ```ts
 * import { CallMetrics } from "./metrics.ts";
 * import { mergeSnapshots } from "./merge_snapshots.ts";
 * const main = new CallMetrics("server", { connections: () => 1 });
 * const worker = new CallMetrics("server", { connections: () => 2 });
 * for (const m of [main, worker]) {
 *   const say = m.method("demo.Echo", "Say");
 *   say.begin(3);
 *   say.end(0, 0.2, 5);
 * }
 * const all = mergeSnapshots(main.snapshot(), [worker.snapshot()]);
 * const say = all.methods[0]!;
 * if (say.calls["OK"] !== 2 || say.latency.count !== 2 || say.requestBytes !== 6) {
 *   throw new Error();
 * }
 * if (all.connections !== 3) throw new Error();
 * ```
 */
export function mergeSnapshots(
  own: MetricsSnapshot,
  others: readonly MetricsSnapshot[],
): MetricsSnapshot {
  const { methods: ownMethods, ...ownRest } = own;
  let rest = added(ownRest, undefined);
  const methods = new Map<string, MethodMetricsSnapshot>();
  const add = (m: MethodMetricsSnapshot) => {
    const key = `${m.service}/${m.method}`;
    methods.set(key, added(methods.get(key), m) as MethodMetricsSnapshot);
  };
  ownMethods.forEach(add);
  for (const { methods: theirs, ...theirRest } of others) {
    rest = added(rest, theirRest);
    theirs.forEach(add);
  }
  return { ...rest as Omit<MetricsSnapshot, "methods">, methods: [...methods.values()] };
}

/** The last slow or failed calls of one event loop of a provider. */
export interface LoopCalls {
  /** The event loop: 0 for the main thread, k for Worker k. */
  loop: number;
  /** Its calls, newest first. */
  calls: readonly RecentCall[];
}

/**
 * The newest `limit` calls of every loop of `loops`, newest first, each a copy marked with the
 * `loop` that served it.
 *
 * @example
 * ```ts
 * import { mergeRecentCalls } from "./merge_snapshots.ts";
 * const call = (at: number) => ({ at, side: "server" as const, service: "s", method: "m", code: 2, ms: 1 });
 * const merged = mergeRecentCalls([
 *   { loop: 0, calls: [call(5), call(1)] },
 *   { loop: 1, calls: [call(3)] },
 * ], 2);
 * if (merged.map((c) => `${c.at}@${c.loop}`).join() !== "5@0,3@1") throw new Error();
 * ```
 */
export function mergeRecentCalls(
  loops: readonly LoopCalls[],
  limit: number = DEFAULT_RECENT_CALLS,
): RecentCall[] {
  const all: RecentCall[] = [];
  for (const { loop, calls } of loops) {
    for (const call of calls) all.push({ ...call, loop });
  }
  return all.sort((a, b) => b.at - a.at).slice(0, limit);
}

/** `a + b` as described in the module doc; a fresh value (arrays and objects copied). */
function added(a: unknown, b: unknown): unknown {
  if (a === undefined || a === null) return b === undefined ? a : added(b, undefined);
  if (typeof a === "number") return typeof b === "number" ? a + b : a;
  if (Array.isArray(a)) {
    const bs = Array.isArray(b) ? b : [];
    const n = Math.max(a.length, bs.length);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(added(a[i], bs[i]));
    return out;
  }
  if (typeof a === "object") {
    const bo = typeof b === "object" && b !== null ? b as Record<string, unknown> : {};
    const out: Record<string, unknown> = {};
    for (const k of new Set([...Object.keys(a), ...Object.keys(bo)])) {
      out[k] = added((a as Record<string, unknown>)[k], bo[k]);
    }
    return out;
  }
  return a;
}
