import assert from "node:assert/strict";
import { CallMetrics } from "../../src/observe/metrics.ts";
import { renderPrometheus } from "../../src/observe/prometheus.ts";

Deno.test("histogram buckets are cumulative and end with +Inf, _sum in seconds", () => {
  const metrics = new CallMetrics("client", { connections: () => 2, reconnects: () => 1 });
  const m = metrics.method("a.S", "M");
  for (const ms of [0.015, 0.015, 3, 20_000]) {
    m.begin(1);
    m.end(0, ms, 1);
  }
  const text = renderPrometheus([metrics.snapshot()]);
  const l = 'service="a.S",method="M"';
  assert.ok(text.includes(`mprpc_client_call_duration_seconds_bucket{${l},le="0.00001"} 0\n`));
  assert.ok(text.includes(`mprpc_client_call_duration_seconds_bucket{${l},le="0.00002"} 2\n`));
  assert.ok(text.includes(`mprpc_client_call_duration_seconds_bucket{${l},le="0.005"} 3\n`));
  assert.ok(text.includes(`mprpc_client_call_duration_seconds_bucket{${l},le="10"} 3\n`));
  assert.ok(text.includes(`mprpc_client_call_duration_seconds_bucket{${l},le="+Inf"} 4\n`));
  assert.ok(text.includes(`mprpc_client_call_duration_seconds_sum{${l}} 20.00303\n`));
  assert.ok(text.includes("mprpc_client_connections 2\n"));
  assert.ok(text.includes("mprpc_client_reconnects_total 1\n"));
  assert.ok(!text.includes("zookeeper"), "no ZooKeeper lines without a ZooKeeper registry");
});

Deno.test("label values are escaped", () => {
  const metrics = new CallMetrics("server", { connections: () => 0 });
  metrics.method('we"ird\\pkg.S', "M").end(0, 1, 0);
  const text = renderPrometheus([metrics.snapshot()]);
  assert.ok(text.includes('{service="we\\"ird\\\\pkg.S",method="M",code="OK"} 1'), text);
});

Deno.test("each metric family has one HELP and TYPE line", () => {
  const metrics = new CallMetrics("server", { connections: () => 0 });
  metrics.method("a.S", "M1").end(0, 1, 0);
  metrics.method("a.S", "M2").end(14, 1, 0);
  const text = renderPrometheus([metrics.snapshot()]);
  const types = text.split("\n").filter((l) => l.startsWith("# TYPE"));
  assert.equal(new Set(types).size, types.length);
  assert.ok(types.includes("# TYPE mprpc_server_calls_total counter"));
  assert.ok(
    text.includes('mprpc_server_calls_total{service="a.S",method="M2",code="UNAVAILABLE"} 1'),
  );
});
