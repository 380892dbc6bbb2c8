import assert from "node:assert/strict";
import { MethodMetrics } from "../../src/observe/method_metrics.ts";

Deno.test("one call at a time is timed; the next one after it ends is timed again", () => {
  const m = new MethodMetrics("s", "m");
  const first = m.ticket();
  assert.ok(first > 0);
  assert.equal(m.ticket(), 0, "another call is being timed");
  m.release(first);
  assert.ok(m.ticket() > 0);
});

Deno.test("a timed call that never ends does not stop the timing of later calls", () => {
  const m = new MethodMetrics("s", "m");
  const stuck = m.ticket();
  let untimed = 0;
  let next = 0;
  while ((next = m.ticket()) === 0) untimed++;
  assert.equal(untimed, 999);
  m.release(stuck); // the stuck call ends at last: it does not free the newer ticket
  assert.equal(m.ticket(), 0);
  m.release(next);
  assert.ok(m.ticket() > 0);
});

Deno.test("an unknown status code is counted as UNKNOWN", () => {
  const m = new MethodMetrics("s", "m");
  m.begin(1);
  m.count(99, 0);
  assert.equal(m.calls[2], 1);
  assert.equal(m.inflight, 0);
});

Deno.test("calls handled one after another are timed at most once per millisecond", () => {
  const m = new MethodMetrics("s", "m");
  const first = m.ticket(1000);
  assert.ok(first > 0);
  m.release(first);
  assert.equal(m.ticket(1000), 0, "the same millisecond");
  const next = m.ticket(1001);
  assert.ok(next > 0);
  m.release(next);
  // Without a clock reading (a channel's calls), only the one-at-a-time rule applies.
  const a = m.ticket();
  m.release(a);
  assert.ok(m.ticket() > 0);
});
