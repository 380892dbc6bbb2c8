import assert from "node:assert/strict";
import { formatTraceparent, parseTraceparent } from "../../src/observe/trace_context.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

Deno.test("traceparent round-trips a span context", () => {
  const value = formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags: 0 });
  assert.equal(value, `00-${TRACE}-${SPAN}-00`);
  const sc = parseTraceparent(value, "vendor=abc");
  assert.deepEqual(
    [sc?.traceId, sc?.spanId, sc?.traceFlags, sc?.isRemote, sc?.traceState?.get("vendor")],
    [TRACE, SPAN, 0, true, "abc"],
  );
});

Deno.test("malformed traceparent values are ignored, not errors", () => {
  for (
    const bad of [
      "",
      "garbage",
      `ff-${TRACE}-${SPAN}-01`, // version ff is invalid
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${"0".repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
      `00-${TRACE}-${SPAN}`,
    ]
  ) {
    assert.equal(parseTraceparent(bad), undefined, bad);
  }
  assert.equal(parseTraceparent(undefined), undefined);
  // A later version may add fields: the first four are read.
  assert.equal(parseTraceparent(`01-${TRACE}-${SPAN}-01-more`)?.spanId, SPAN);
});
