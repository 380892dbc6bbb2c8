/**
 * A provider with `workers`: the options that shape a call apply on every event loop, the
 * Workers log into the main provider's logger, and a Worker that fails to start fails
 * `start()` without leaving anything listening.
 */
import assert from "node:assert/strict";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { WORKER_OPTION_ROLES, workerOptions, WorkerPool } from "../../src/server/worker_pool.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { closeQuietly, readToEnd } from "../_helpers/raw_tcp.ts";

const MODULE = new URL("../_fixtures/kitchen_worker_module.ts", import.meta.url);
const LOOPS = ["main", "mprpc-provider-1", "mprpc-provider-2"];

Deno.test("with workers, readTimeoutMs closes silent connections on every event loop, and each Worker logs it into the main provider's logger", async () => {
  const logger = new CaptureLogger();
  const provider = new RpcProvider({
    workers: LOOPS.length,
    workerModule: MODULE,
    readTimeoutMs: 200,
    logger,
  });
  const conns: Deno.TcpConn[] = [];
  try {
    await provider.start();
    const { host, port } = provider.address;
    for (let i = 0; i < 40; i++) conns.push(await Deno.connect({ hostname: host, port }));
    // Each silent connection is closed by the loop that accepted it (the default is 30 s).
    await Promise.all(conns.map((c) => readToEnd(c)));
    const closedBy = await eventually("a read-timeout line per connection", () => {
      const lines = logger.find("warn", "closing connection: read timeout");
      return lines.length === conns.length ? lines : undefined;
    });
    const loops = new Set(closedBy.map((l) => String(l.fields["worker"] ?? "main")));
    assert.deepEqual([...loops].sort(), LOOPS);
  } finally {
    for (const c of conns) closeQuietly(c);
    await provider.close({ graceMs: 0 });
  }
});

Deno.test("with workers, a setup(provider) that throws in a Worker makes start() reject naming the Worker and leaves nothing listening", async () => {
  const url = new URL(MODULE);
  url.searchParams.set("fail", "worker");
  const provider = new RpcProvider({
    workers: 3,
    workerModule: url,
    port: 0,
    logger: new CaptureLogger(),
  });
  await assert.rejects(
    provider.start(),
    /Provider Worker mprpc-provider-\d failed to start: setup refused on mprpc-provider-\d/,
  );
  // The port is free again: neither the main thread nor a Worker still listens on it.
  const { port } = provider.address;
  const probe = Deno.listen({ hostname: "127.0.0.1", port });
  probe.close();
  await provider.close({ graceMs: 0 });
});

Deno.test("the options that travel to Workers are the limits, timeouts, buffer lending and built-in services, and only those", () => {
  const travelling = Object.entries(WORKER_OPTION_ROLES).filter(([, r]) => r === "travels")
    .map(([k]) => k).sort();
  assert.deepEqual(travelling, [
    "health",
    "idleTimeoutMs",
    "legacy",
    "lendRequestBytes",
    "maxConnections",
    "maxInflightPerConnection",
    "maxMessageBytes",
    "maxStreamsPerConnection",
    "maxUnsentBytes",
    "metrics",
    "readTimeoutMs",
    "reflection",
    "slowCallMs",
  ]);
  const all = {
    maxMessageBytes: 1,
    maxConnections: 2,
    maxInflightPerConnection: 3,
    slowCallMs: 4,
    idleTimeoutMs: 5,
    readTimeoutMs: 6,
    maxUnsentBytes: 7,
    maxStreamsPerConnection: 8,
    legacy: true,
    health: false,
    reflection: false,
    metrics: false,
    lendRequestBytes: true,
  };
  assert.deepEqual(
    workerOptions({ ...all, host: "0.0.0.0", weight: 3, workers: 4, logger: new CaptureLogger() }),
    all,
  );
  assert.throws(
    () => workerOptions({ tls: { cert: "", key: "" } }),
    /workers > 1 cannot be combined with tls/,
  );
  assert.deepEqual(workerOptions({ interceptors: [] }), {}, "an empty list is harmless");
});

/**
 * For each event loop of a provider with `workers` and `lendRequestBytes: lend`: whether the
 * bytes a handler stored without a copy were overwritten by the next request on its connection
 * (they are only when the request was lent its receive buffer).
 */
async function overwrittenByLoop(lend: boolean): Promise<Map<string, boolean>> {
  const url = new URL(MODULE);
  url.searchParams.set("keep", "1");
  const logger = new CaptureLogger();
  await using provider = new RpcProvider({
    workers: LOOPS.length,
    workerModule: url,
    port: 0,
    lendRequestBytes: lend,
    logger,
  });
  await provider.start();
  const service = await kitchenService();
  const overwritten = new Map<string, boolean>();
  // Connections spread over the event loops by the kernel (reusePort): connect again until
  // every loop answered (bounded).
  for (let i = 0; i < 64 && overwritten.size < LOOPS.length; i++) {
    await using channel = new RpcChannel({ address: provider.address, logger });
    const echo = channel.stub<KitchenStub>(service).Echo;
    const stored = new Uint8Array(300).fill(0x11);
    // A connection's first request to a lending method is copied: the second is lent.
    await echo({ text: "keep", data: stored });
    const kept = await echo({ text: "keep", data: stored });
    assert.deepEqual(kept.data, stored, "bytes are intact while their handler answers");
    const later = await echo({ text: "next", data: new Uint8Array(300).fill(0x22) });
    const data = later.data as Uint8Array;
    overwritten.set(String(later.text), data.some((b) => b !== 0x11));
  }
  assert.deepEqual([...overwritten.keys()].sort(), LOOPS);
  return overwritten;
}

Deno.test("lendRequestBytes reaches every Worker: handlers there are lent their request bytes, and are not without it", async () => {
  const lent = await overwrittenByLoop(true);
  assert.deepEqual(Object.fromEntries(lent), Object.fromEntries(LOOPS.map((l) => [l, true])));
  const copied = await overwrittenByLoop(false);
  assert.deepEqual(Object.fromEntries(copied), Object.fromEntries(LOOPS.map((l) => [l, false])));
});

Deno.test("a Worker whose setup(provider) never finishes fails the pool's start after its timeout and is terminated", async () => {
  const url = new URL(MODULE);
  url.searchParams.set("hang", "worker");
  const pool = new WorkerPool();
  const started = Date.now();
  await assert.rejects(
    pool.start(
      1,
      {
        module: url.href,
        host: "127.0.0.1",
        port: 0,
        options: {},
        forwardLogs: false,
      },
      new CaptureLogger(),
      1500,
    ),
    /Provider Worker mprpc-provider-1 failed to start: setup\(provider\) or listening did not finish within 1500 ms/,
  );
  assert.ok(Date.now() - started < 10_000);
  assert.equal(pool.size, 0);
});
