/**
 * Metrics of a provider with `workers`: `provider.metrics()`, `/metrics` and `/rpcz` cover the
 * calls of every event loop, each counted once, and hold every loop's final counts once
 * `close()` has resolved.
 *
 * Which loop served a call is read from the answer: the fixture's Echo answers with the name of
 * its event loop (`main` or the Worker's name), and its rejections name it too, so the loop
 * `/rpcz` gives each failed call is checked against the loop that really ran it.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import type { RecentCall } from "../../src/observe/recent_calls.ts";
import type { MetricsSnapshot } from "../../src/observe/metrics.ts";
import { localMetrics, RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";

const MODULE = new URL("../_fixtures/kitchen_worker_module.ts", import.meta.url);
const WORKER = "mprpc-provider-1";
/** Channels opened until both loops have one; each is one connection. */
const MAX_CHANNELS = 40;
const CALLS_PER_CHANNEL = 5;

function moduleUrl(query: Record<string, string> = {}): URL {
  const url = new URL(MODULE);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url;
}

function echoOk(snap: MetricsSnapshot): number {
  const echo = snap.methods.find((m) => m.service === "kitchen.Kitchen" && m.method === "Echo");
  return echo?.calls["OK"] ?? 0;
}

/**
 * Opens channels to `provider` until one lands on the main thread and one on the Worker (the
 * kernel spreads connections by their ports), makes `CALLS_PER_CHANNEL` Echo calls on each, and
 * returns the channels and how many calls each loop served.
 */
async function callBothLoops(
  provider: RpcProvider,
): Promise<{ channels: RpcChannel[]; servedBy: Map<string, number> }> {
  const service = await kitchenService();
  const channels: RpcChannel[] = [];
  const servedBy = new Map<string, number>();
  while (servedBy.size < 2 && channels.length < MAX_CHANNELS) {
    const channel = new RpcChannel({ address: provider.address });
    channels.push(channel);
    const stub = channel.stub<KitchenStub>(service);
    for (let i = 0; i < CALLS_PER_CHANNEL; i++) {
      const { text } = await stub.Echo({ text: `call-${i}` }) as { text: string };
      servedBy.set(text, (servedBy.get(text) ?? 0) + 1);
    }
  }
  assert.deepEqual([...servedBy.keys()].sort(), ["main", WORKER], "both loops served calls");
  return { channels, servedBy };
}

Deno.test("with workers, provider.metrics() counts every loop's calls once, and holds the final counts once close() resolved", async () => {
  const provider = new RpcProvider({
    workers: 2,
    workerModule: moduleUrl(),
    logger: new CaptureLogger(),
  });
  let channels: RpcChannel[] = [];
  try {
    await provider.start();
    const called = await callBothLoops(provider);
    channels = called.channels;
    const total = channels.length * CALLS_PER_CHANNEL;
    // Closed right after the calls: the Worker's periodic post (every second) may not have
    // happened yet, so only its post after closing brings its calls in.
    await Promise.all(channels.map((c) => c.close()));
    channels = [];
    await provider.close({ graceMs: 0 });
    const own = localMetrics(provider).metrics;
    assert.equal(echoOk(own), called.servedBy.get("main"), "the main thread counts its own calls");
    const all = provider.metrics();
    assert.equal(echoOk(all), total, "every call on every loop, each once");
    const echo = all.methods.find((m) => m.method === "Echo")!;
    assert.equal(echo.inflight, 0);
    assert.ok(echo.latency.count >= 2 && echo.latency.count <= total, String(echo.latency.count));
    assert.equal(echo.latency.buckets.reduce((a, b) => a + b), echo.latency.count);
    assert.equal(all.connections, 0);
    assert.equal(echoOk(provider.metrics()), total, "reading again changes nothing");
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await provider.close({ graceMs: 0 });
  }
});

Deno.test("with workers, GET /metrics shows every loop's calls and connections within a bounded wait while the provider runs", async () => {
  const provider = new RpcProvider({
    workers: 2,
    workerModule: moduleUrl(),
    admin: { host: "127.0.0.1", port: 0 },
    logger: new CaptureLogger(),
  });
  let channels: RpcChannel[] = [];
  try {
    await provider.start();
    const called = await callBothLoops(provider);
    channels = called.channels;
    const total = channels.length * CALLS_PER_CHANNEL;
    const url = `http://127.0.0.1:${provider.adminAddress!.port}/metrics`;
    const seen: number[] = [];
    const text = await eventually(
      "the Worker's calls in /metrics",
      async () => {
        const body = await (await fetch(url)).text();
        const n = Number(
          /mprpc_server_calls_total\{service="kitchen\.Kitchen",method="Echo",code="OK"\} (\d+)/
            .exec(body)?.[1],
        );
        seen.push(n);
        return n === total ? body : undefined;
      },
      15_000,
      100,
    );
    assert.ok(text.includes(`mprpc_server_connections ${channels.length}\n`), text);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "the count never goes down");
    assert.ok(seen.every((n) => n >= called.servedBy.get("main")! && n <= total), String(seen));
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await provider.close({ graceMs: 0 });
  }
});

Deno.test("with workers, /rpcz.json lists the failed calls of every loop, newest first, each with the loop that served it", async () => {
  const provider = new RpcProvider({
    workers: 2,
    workerModule: moduleUrl({ reject: "no" }),
    admin: { host: "127.0.0.1", port: 0 },
    logger: new CaptureLogger(),
  });
  let channels: RpcChannel[] = [];
  try {
    await provider.start();
    const called = await callBothLoops(provider);
    channels = called.channels;
    const service = await kitchenService();
    const failedOn: string[] = [];
    for (const channel of channels) {
      const err = await channel.stub<KitchenStub>(service).Echo({ text: "no" }).then(
        () => assert.fail("Echo should fail"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RpcError && err.code === Code.FAILED_PRECONDITION, String(err));
      failedOn.push(err.message);
    }
    assert.ok(failedOn.some((m) => m.includes(WORKER)), failedOn.join());
    const url = `http://127.0.0.1:${provider.adminAddress!.port}/rpcz.json`;
    const calls = await eventually(
      "every failed call in /rpcz.json",
      async () => {
        const list = (await (await fetch(url)).json() as { calls: RecentCall[] }).calls;
        return list.length === failedOn.length ? list : undefined;
      },
      15_000,
      100,
    );
    assert.deepEqual(calls.map((c) => c.error).sort(), [...failedOn].sort());
    assert.ok(calls.every((c) => c.code === Code.FAILED_PRECONDITION && c.method === "Echo"));
    const at = calls.map((c) => c.at);
    assert.deepEqual(at, [...at].sort((a, b) => b - a), "newest first");
    // Each failure names the loop that ran it ("rejected on main" / "rejected on <Worker>"), so
    // every entry's loop is known exactly; callBothLoops gave both loops a channel, and every
    // channel failed one call, so both loops are in the list.
    const loopOf = (error: string | undefined) =>
      error === "rejected on main" ? 0 : error === `rejected on ${WORKER}` ? 1 : NaN;
    assert.deepEqual(
      calls.map((c) => [c.error, c.loop]),
      calls.map((c) => [c.error, loopOf(c.error)]),
      "each call's loop is the one that served it",
    );
    assert.deepEqual([...new Set(calls.map((c) => c.loop))].sort(), [0, 1]);
    const html = await (await fetch(url.replace("/rpcz.json", "/rpcz"))).text();
    assert.ok(html.includes('data-loop="1"') && html.includes("<td>worker 1</td>"), html);
    assert.ok(html.includes('data-loop="0"') && html.includes("<td>main</td>"), html);
    const failed = provider.metrics().methods.find((m) => m.method === "Echo")!;
    assert.equal(failed.calls["FAILED_PRECONDITION"], failedOn.length);
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await provider.close({ graceMs: 0 });
  }
});
