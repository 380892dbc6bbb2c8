/**
 * Streaming calls in the metrics of both sides: real provider, real channel, real sockets.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { parseProto } from "../../src/schema/load_proto.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import type { MethodMetricsSnapshot, MetricsSnapshot } from "../../src/observe/metrics.ts";
import { renderPrometheus } from "../../src/observe/prometheus.ts";
import { eventually } from "../_helpers/eventually.ts";

const root = parseProto(`syntax = "proto3"; package obs;
  message N { int32 n = 1; string pad = 2; }
  service Streams {
    rpc Count(N) returns (stream N);
    rpc Sum(stream N) returns (N);
    rpc Echo(stream N) returns (stream N);
  }`);
const service = root.lookupService("obs.Streams");
const N = root.lookupType("obs.N");

/** Bytes of the encoding of `N { n }`. */
function size(n: number): number {
  return N.encode({ n }).finish().length;
}

interface StreamsStub {
  Count(req: { n: number; pad?: string }): AsyncIterable<{ n: number }>;
  Sum(reqs: AsyncIterable<{ n: number }> | Iterable<{ n: number }>): Promise<{ n: number }>;
  Echo(reqs: AsyncIterable<{ n: number }> | Iterable<{ n: number }>): AsyncIterable<{ n: number }>;
}

function method(snap: MetricsSnapshot, name: string): MethodMetricsSnapshot {
  const m = snap.methods.find((x) => x.method === name);
  assert.ok(m, `no metrics for ${name} in ${JSON.stringify(snap.methods.map((x) => x.method))}`);
  return m;
}

/** What a side's counters of one method say, in one comparable object. */
function counted(m: MethodMetricsSnapshot) {
  return {
    calls: m.calls,
    inflight: m.inflight,
    requestBytes: m.requestBytes,
    responseBytes: m.responseBytes,
    messages: m.messages,
    timed: m.latency.count,
  };
}

async function setup() {
  const provider = new RpcProvider().notifyService(service, {
    // Count(n): 1..n, then fails with code -n when n is negative (after |n| messages).
    async *Count(req: { n: number; pad: string }, ctx: CallContext) {
      if (req.pad === "wait") {
        yield { n: 1 };
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        return;
      }
      for (let i = 1; i <= Math.abs(req.n); i++) yield { n: i };
      if (req.n < 0) throw new RpcError(Code.NOT_FOUND, "no more");
    },
    async Sum(reqs: AsyncIterable<{ n: number }>) {
      let n = 0;
      for await (const r of reqs) n += r.n;
      return { n };
    },
    async *Echo(reqs: AsyncIterable<{ n: number }>) {
      for await (const r of reqs) yield { n: r.n };
    },
  });
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, timeoutMs: 10_000 });
  const stub = channel.stub<StreamsStub>(service);
  return {
    provider,
    channel,
    stub,
    async [Symbol.asyncDispose]() {
      await channel.close();
      await provider.close();
    },
  };
}

Deno.test("a server stream counts as one call with its messages and bytes on both sides", async () => {
  await using s = await setup();
  const got: number[] = [];
  for await (const m of s.stub.Count({ n: 3 })) got.push(m.n);
  assert.deepEqual(got, [1, 2, 3]);
  const responses = size(1) + size(2) + size(3);
  await eventually(
    "the provider to count the stream",
    () => method(s.provider.metrics(), "Count").calls["OK"] === 1,
  );
  assert.deepEqual(counted(method(s.provider.metrics(), "Count")), {
    calls: { OK: 1 },
    inflight: 0,
    requestBytes: size(3),
    responseBytes: responses,
    messages: { sent: 3, received: 1 },
    timed: 1,
  });
  assert.deepEqual(counted(method(s.channel.metrics(), "Count")), {
    calls: { OK: 1 },
    inflight: 0,
    requestBytes: size(3),
    responseBytes: responses,
    messages: { sent: 1, received: 3 },
    timed: 1,
  });
});

Deno.test("a client stream counts its request messages and its one response on both sides", async () => {
  await using s = await setup();
  const ns = [1, 2, 3, 4, 5].map((n) => ({ n }));
  assert.equal((await s.stub.Sum(ns)).n, 15);
  const requests = ns.reduce((a, { n }) => a + size(n), 0);
  await eventually(
    "the provider to count the stream",
    () => method(s.provider.metrics(), "Sum").calls["OK"] === 1,
  );
  assert.deepEqual(counted(method(s.provider.metrics(), "Sum")), {
    calls: { OK: 1 },
    inflight: 0,
    requestBytes: requests,
    responseBytes: size(15),
    messages: { sent: 1, received: 5 },
    timed: 1,
  });
  assert.deepEqual(counted(method(s.channel.metrics(), "Sum")), {
    calls: { OK: 1 },
    inflight: 0,
    requestBytes: requests,
    responseBytes: size(15),
    messages: { sent: 5, received: 1 },
    timed: 1,
  });
});

Deno.test("a bidirectional stream counts messages both ways, and Prometheus shows them", async () => {
  await using s = await setup();
  const got: number[] = [];
  for await (const m of s.stub.Echo([7, 8, 9, 10].map((n) => ({ n })))) got.push(m.n);
  assert.deepEqual(got, [7, 8, 9, 10]);
  const bytes = [7, 8, 9, 10].reduce((a, n) => a + size(n), 0);
  await eventually(
    "the provider to count the stream",
    () => method(s.provider.metrics(), "Echo").calls["OK"] === 1,
  );
  assert.deepEqual(counted(method(s.provider.metrics(), "Echo")), {
    calls: { OK: 1 },
    inflight: 0,
    requestBytes: bytes,
    responseBytes: bytes,
    messages: { sent: 4, received: 4 },
    timed: 1,
  });
  assert.deepEqual(method(s.channel.metrics(), "Echo").messages, { sent: 4, received: 4 });
  const text = renderPrometheus([s.provider.metrics(), s.channel.metrics()]);
  const l = 'service="obs.Streams",method="Echo"';
  for (
    const line of [
      `mprpc_server_calls_total{${l},code="OK"} 1`,
      `mprpc_server_stream_messages_sent_total{${l}} 4`,
      `mprpc_server_stream_messages_received_total{${l}} 4`,
      `mprpc_client_stream_messages_sent_total{${l}} 4`,
      `mprpc_client_stream_messages_received_total{${l}} 4`,
      `mprpc_client_call_duration_seconds_count{${l}} 1`,
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `${line} missing from:\n${text}`);
  }
});

Deno.test("an open stream is in flight on both sides; breaking out counts it CANCELLED", async () => {
  await using s = await setup();
  for await (const m of s.stub.Count({ n: 1, pad: "wait" })) {
    assert.equal(m.n, 1);
    assert.equal(method(s.channel.metrics(), "Count").inflight, 1);
    assert.equal(method(s.provider.metrics(), "Count").inflight, 1);
    break;
  }
  await eventually(
    "the provider to count the cancel",
    () => method(s.provider.metrics(), "Count").calls["CANCELLED"] === 1,
  );
  for (const snap of [s.provider.metrics(), s.channel.metrics()]) {
    const m = method(snap, "Count");
    assert.deepEqual([m.calls, m.inflight, m.latency.count], [{ CANCELLED: 1 }, 0, 1]);
  }
});

Deno.test("a stream whose handler throws after yielding counts that code on both sides", async () => {
  await using s = await setup();
  const got: number[] = [];
  await assert.rejects(
    async () => {
      for await (const m of s.stub.Count({ n: -2 })) got.push(m.n);
    },
    (e) => e instanceof RpcError && e.code === Code.NOT_FOUND,
  );
  assert.deepEqual(got, [1, 2]);
  await eventually(
    "the provider to count the stream",
    () => method(s.provider.metrics(), "Count").calls["NOT_FOUND"] === 1,
  );
  for (const snap of [s.provider.metrics(), s.channel.metrics()]) {
    const m = method(snap, "Count");
    assert.deepEqual([m.calls, m.inflight, (m.messages?.sent ?? 0) + (m.messages?.received ?? 0)], [
      { NOT_FOUND: 1 },
      0,
      3,
    ]);
  }
});

Deno.test("unary methods report no stream message counters", async () => {
  const unary = parseProto(`syntax = "proto3"; package obs;
    message M { string t = 1; }
    service U { rpc Say(M) returns (M); }`).lookupService("obs.U");
  await using provider = new RpcProvider().notifyService(unary, { Say: (r) => r });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  await channel.stub(unary).Say!({ t: "x" });
  assert.equal(method(provider.metrics(), "Say").messages, undefined);
  assert.ok(!renderPrometheus([provider.metrics()]).includes("stream_messages"));
});
