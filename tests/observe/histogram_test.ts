import assert from "node:assert/strict";
import {
  bucketQuantile,
  LATENCY_BUCKETS_SECONDS,
  LatencyHistogram,
} from "../../src/observe/histogram.ts";

Deno.test("durations land in the first bucket whose bound is not below them", () => {
  const h = new LatencyHistogram();
  h.observe(0); // 0 ms
  h.observe(0.01); // exactly 10 µs: the first bound is inclusive
  h.observe(0.0101);
  h.observe(10_000); // exactly 10 s
  h.observe(60_000); // over the last bound: +Inf
  assert.equal(h.counts[0], 2);
  assert.equal(h.counts[1], 1);
  assert.equal(h.counts[LATENCY_BUCKETS_SECONDS.length - 1], 1);
  assert.equal(h.counts[LATENCY_BUCKETS_SECONDS.length], 1);
  assert.equal(h.count, 5);
});

Deno.test("bounds are 1-2-5 per decade from 10 µs to 10 s", () => {
  assert.equal(LATENCY_BUCKETS_SECONDS[0], 0.00001);
  assert.equal(LATENCY_BUCKETS_SECONDS.at(-1), 10);
  for (let i = 1; i < LATENCY_BUCKETS_SECONDS.length; i++) {
    assert.ok(LATENCY_BUCKETS_SECONDS[i]! > LATENCY_BUCKETS_SECONDS[i - 1]!);
  }
});

Deno.test("quantiles interpolate inside their bucket", () => {
  const h = new LatencyHistogram();
  for (let i = 0; i < 99; i++) h.observe(0.15); // (0.1, 0.2] ms
  h.observe(30); // (20, 50] ms
  const p50 = bucketQuantile(h.counts, 0.5);
  assert.ok(p50 > 0.0001 && p50 <= 0.0002, String(p50));
  const p99 = bucketQuantile(h.counts, 0.99);
  assert.ok(p99 <= 0.0002, String(p99));
  const max = bucketQuantile(h.counts, 1);
  assert.ok(max > 0.02 && max <= 0.05, String(max));
  assert.ok(Number.isNaN(bucketQuantile(new Float64Array(20), 0.5)));
  const inf = new Float64Array(20);
  inf[19] = 1;
  assert.equal(bucketQuantile(inf, 0.5), 10);
});
