/**
 * A latency histogram with fixed log-linear buckets (1, 2, 5 per decade from 10 µs to 10 s), the
 * shape Prometheus histograms and the console page read. Recording is a few comparisons and two
 * additions: no allocation.
 *
 * @module
 */

/**
 * Upper bounds of the buckets, in seconds (the last, implicit bucket is `+Inf`): 10 µs, 20 µs,
 * 50 µs, 100 µs, … 5 s, 10 s.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1].flatMap((d) => [d, 2 * d, 5 * d]).concat([10]),
);

/** Bucket bounds in milliseconds (what {@linkcode LatencyHistogram.observe} compares with). */
const BOUNDS_MS = new Float64Array(LATENCY_BUCKETS_SECONDS.map((s) => s * 1000));

/**
 * Counts durations into {@linkcode LATENCY_BUCKETS_SECONDS}.
 *
 * @example Two calls, then their median
 * ```ts
 * import { LatencyHistogram } from "./histogram.ts";
 * const h = new LatencyHistogram();
 * h.observe(0.3);
 * h.observe(40);
 * if (h.count !== 2 || h.sumMs !== 40.3) throw new Error();
 * if (h.counts[5] !== 1) throw new Error("0.3 ms is in the <= 0.5 ms bucket");
 * ```
 */
export class LatencyHistogram {
  /** Per bucket (not cumulative) counts; the last one is `+Inf`. */
  readonly counts: Float64Array = new Float64Array(BOUNDS_MS.length + 1);
  /** Observations. */
  count = 0;
  /** Sum of the observed durations, ms. */
  sumMs = 0;

  /** Records a duration of `ms` milliseconds. */
  observe(ms: number): void {
    let i = 0;
    const n = BOUNDS_MS.length;
    while (i < n && ms > BOUNDS_MS[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sumMs += ms;
  }
}

/**
 * The `q` quantile (0..1) of per-bucket `counts` laid out as {@linkcode LATENCY_BUCKETS_SECONDS}
 * (plus `+Inf`), in seconds, interpolated linearly inside its bucket (the `+Inf` bucket answers
 * the last bound); `NaN` when there are no observations.
 *
 * @example
 * ```ts
 * import { bucketQuantile } from "./histogram.ts";
 * const counts = new Array(20).fill(0);
 * counts[3] = 10; // ten calls between 50 and 100 µs
 * const p50 = bucketQuantile(counts, 0.5);
 * if (!(p50 > 0.00005 && p50 <= 0.0001)) throw new Error(String(p50));
 * ```
 */
export function bucketQuantile(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return NaN;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && seen + c >= rank) {
      const hi = LATENCY_BUCKETS_SECONDS[i];
      if (hi === undefined) return LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1]!;
      const lo = i === 0 ? 0 : LATENCY_BUCKETS_SECONDS[i - 1]!;
      return lo + (hi - lo) * Math.max(0, rank - seen) / c;
    }
    seen += c;
  }
  return LATENCY_BUCKETS_SECONDS[LATENCY_BUCKETS_SECONDS.length - 1]!;
}
