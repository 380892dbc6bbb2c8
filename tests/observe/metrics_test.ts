import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import type { MethodMetricsSnapshot, MetricsSnapshot } from "../../src/observe/metrics.ts";
import { echoImpl, echoService, type Msg } from "../_helpers/echo_service.ts";
import { eventually } from "../_helpers/eventually.ts";

type EchoStub = Record<"Say" | "Fail" | "Slow", StubMethod<Msg, Msg>>;

function method(snap: MetricsSnapshot, name: string): MethodMetricsSnapshot {
  const m = snap.methods.find((x) => x.method === name);
  assert.ok(m, `no metrics for ${name} in ${JSON.stringify(snap.methods.map((x) => x.method))}`);
  return m;
}

async function setup(options: { metrics?: boolean } = {}) {
  const provider = new RpcProvider({ ...options, slowCallMs: 200 }).notifyService(
    echoService,
    echoImpl,
  );
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, ...options });
  const stub = channel.stub<EchoStub>(echoService);
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

Deno.test("both sides count calls by status code, with bytes and a latency histogram", async () => {
  await using t = await setup();
  for (let i = 0; i < 5; i++) await t.stub.Say({ text: "hello" });
  await assert.rejects(t.stub.Fail({ code: Code.NOT_FOUND }), RpcError);
  await assert.rejects(t.stub.Fail({ code: Code.NOT_FOUND }), RpcError);
  const served = method(t.provider.metrics(), "Say").responseBytes;
  assert.ok(served >= 5 * 7, `${served} response bytes`);
  for (const snap of [t.provider.metrics(), t.channel.metrics()]) {
    const say = method(snap, "Say");
    assert.deepEqual(say.calls, { OK: 5 });
    assert.equal(say.service, "obs.Echo");
    assert.equal(say.requestBytes, 5 * 7); // field 1, length 5, "hello"
    assert.equal(say.responseBytes, served); // what one side sent, the other received
    // Calls handled within one millisecond are timed once by the provider.
    assert.ok(say.latency.count >= 1 && say.latency.count <= 5, String(say.latency.count));
    assert.equal(say.latency.buckets.reduce((a, b) => a + b, 0), say.latency.count);
    assert.ok(say.latency.sumSeconds > 0);
    assert.equal(say.inflight, 0);
    assert.deepEqual(method(snap, "Fail").calls, { NOT_FOUND: 2 });
    assert.equal(snap.connections, 1);
  }
  assert.equal(method(t.channel.metrics(), "Say").latency.count, 5, "one after another: all timed");
  assert.equal(t.provider.metrics().side, "server");
  assert.equal(t.channel.metrics().side, "client");
});

Deno.test("calls in flight are counted on both sides until they end", async () => {
  await using t = await setup();
  const slow = t.stub.Slow({ waitMs: 300 });
  await eventually(
    "the provider to count the call in flight",
    () => t.provider.metrics().methods.find((m) => m.method === "Slow")?.inflight === 1,
  );
  assert.equal(method(t.channel.metrics(), "Slow").inflight, 1);
  await slow;
  assert.equal(method(t.provider.metrics(), "Slow").inflight, 0);
  assert.equal(method(t.channel.metrics(), "Slow").inflight, 0);
  assert.deepEqual(method(t.provider.metrics(), "Slow").calls, { OK: 1 });
});

Deno.test("a call past its deadline is counted DEADLINE_EXCEEDED on both sides", async () => {
  await using t = await setup();
  await assert.rejects(t.stub.Slow({ waitMs: 5000 }, { timeoutMs: 50 }), RpcError);
  assert.deepEqual(method(t.channel.metrics(), "Slow").calls, { DEADLINE_EXCEEDED: 1 });
  await eventually(
    "the provider to count the expired call",
    () => method(t.provider.metrics(), "Slow").calls["DEADLINE_EXCEEDED"] === 1,
  );
  assert.equal(method(t.provider.metrics(), "Slow").inflight, 0);
});

Deno.test("a cancelled call is counted CANCELLED by the provider", async () => {
  await using t = await setup();
  const abort = new AbortController();
  const call = t.stub.Slow({ waitMs: 5000 }, { signal: abort.signal });
  await eventually("the call to start", () => t.provider.inflight === 1);
  abort.abort();
  await assert.rejects(call, RpcError);
  await eventually(
    "the provider to count the cancelled call",
    () => method(t.provider.metrics(), "Slow").calls["CANCELLED"] === 1,
  );
});

Deno.test("metrics: false counts nothing and still reports connections", async () => {
  await using t = await setup({ metrics: false });
  await t.stub.Say({ text: "x" });
  assert.deepEqual(t.provider.metrics().methods, []);
  assert.deepEqual(t.channel.metrics().methods, []);
  assert.equal(t.provider.metrics().connections, 1);
  assert.equal(t.channel.metrics().connections, 1);
});

Deno.test("a channel counts a connection opened again to a provider as a reconnect", async () => {
  const provider = new RpcProvider().notifyService(echoService, echoImpl);
  await provider.start();
  const port = provider.address.port;
  const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
  try {
    const stub = channel.stub<EchoStub>(echoService);
    await stub.Say({ text: "a" });
    assert.equal(channel.metrics().reconnects, 0);
    await provider.close();
    const again = new RpcProvider({ port }).notifyService(echoService, echoImpl);
    await again.start();
    try {
      await eventually("the call on a new connection", () => stub.Say({ text: "b" }));
      assert.equal(channel.metrics().reconnects, 1);
    } finally {
      await again.close();
    }
  } finally {
    await channel.close();
    await provider.close();
  }
});

Deno.test("the logger's dropped lines are reported", async () => {
  const logger = Object.assign(
    { debug() {}, info() {}, warn() {}, error() {}, critical() {} },
    { dropped: 7 },
  );
  await using provider = new RpcProvider({ logger });
  assert.equal(provider.metrics().loggerDropped, 7);
});
