/**
 * `Registry.resolve(service, { signal })` abandons its wait when the signal aborts, and the
 * registry's "unreachable" log line says what failed.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { formatFields } from "../../src/log/logger.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { deadPort } from "../_helpers/raw_tcp.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";

const SLACK_MS = 50;
const SERVICE = "fixbug.UserServiceRpc";

/** Aborts `ac` after `ms`; `p` must reject with `code` within SLACK_MS of the abort. */
async function abandonedWithin(
  p: Promise<unknown>,
  ac: AbortController,
  ms: number,
  code: number,
): Promise<void> {
  p.catch(() => {}); // awaited below
  await new Promise((r) => setTimeout(r, ms));
  ac.abort();
  const abortedAt = Date.now();
  const err = await p.then(() => assert.fail("resolved"), (e) => e);
  const late = Date.now() - abortedAt;
  assert.ok(err instanceof RpcError, `expected an RpcError, got ${err}`);
  assert.equal(err.code, code, err.message);
  assert.ok(late <= SLACK_MS, `rejected ${late} ms after the abort`);
}

Deno.test("ZooKeeperRegistry.resolve against an unreachable ZooKeeper is abandoned within 50 ms of an abort", async () => {
  await using r = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const ac = new AbortController();
  await abandonedWithin(r.resolve(SERVICE, { signal: ac.signal }), ac, 200, Code.CANCELLED);
  const ac2 = new AbortController();
  await abandonedWithin(
    r.resolveLegacy("UserServiceRpc", "Login", { signal: ac2.signal }),
    ac2,
    100,
    Code.CANCELLED,
  );
});

Deno.test("an abort whose reason is an RpcError rejects resolve with that error", async () => {
  await using r = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const ac = new AbortController();
  const p = r.resolve(SERVICE, { signal: ac.signal });
  ac.abort(new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"));
  await assert.rejects(p, (e) => e instanceof RpcError && e.code === Code.DEADLINE_EXCEEDED);
});

Deno.test("the unreachable-ZooKeeper WARN line says what failed, never error=undefined", async () => {
  const log = new CaptureLogger();
  const port = deadPort();
  await using r = new ZooKeeperRegistry({
    connect: `127.0.0.1:${port}`,
    connectTimeoutMs: 300,
    logger: log,
  });
  await assert.rejects(r.resolve(SERVICE), (e) => e instanceof RpcError);
  const line = log.find("warn", "unreachable after 300 ms")[0];
  assert.ok(line, JSON.stringify(log.lines));
  const text = formatFields(line.fields);
  assert.doesNotMatch(text, /undefined/, text);
  assert.match(text, /error="not connected \(session connecting\)"/, text);
});

Deno.test("a watch closes when its signal aborts", async () => {
  const registry = new StaticRegistry();
  const ac = new AbortController();
  const seen: number[] = [];
  registry.watch(SERVICE, (list) => seen.push(list.length), { signal: ac.signal });
  await registry.register({ service: SERVICE, methods: [], host: "127.0.0.1", port: 1 });
  ac.abort();
  await registry.register({ service: SERVICE, methods: [], host: "127.0.0.1", port: 2 });
  assert.deepEqual(seen, [1]);
  await assert.rejects(
    registry.resolve(SERVICE, { signal: ac.signal }),
    (e) => e instanceof RpcError && e.code === Code.CANCELLED,
  );
  await registry.close();
});

Deno.test({
  name: "ZooKeeperRegistry: a signal ends one caller's wait only, and closes a watch",
  ignore: !(await zkAvailable()),
  async fn(t) {
    await using zk = await startZooKeeper();
    await using provider = new ZooKeeperRegistry({
      connect: zk.connect,
      logger: new CaptureLogger(),
    });
    await using caller = new ZooKeeperRegistry({
      connect: zk.connect,
      logger: new CaptureLogger(),
    });
    await t.step(
      "one resolve abandoned does not fail another caller of the same service",
      async () => {
        const ac = new AbortController();
        const quitter = caller.resolve(SERVICE, { signal: ac.signal });
        const patient = caller.resolve(SERVICE);
        ac.abort();
        await assert.rejects(quitter, (e) => e instanceof RpcError && e.code === Code.CANCELLED);
        assert.deepEqual(await patient, []);
      },
    );
    await t.step("a watch closes when its signal aborts", async () => {
      const ac = new AbortController();
      const seen: number[] = [];
      const kept: number[] = [];
      caller.watch(SERVICE, (list) => seen.push(list.length), { signal: ac.signal });
      const other = caller.watch(SERVICE, (list) => kept.push(list.length));
      ac.abort();
      await provider.register({ service: SERVICE, methods: [], host: "127.0.0.1", port: 8000 });
      await eventually("the open watch sees the provider", () => kept.includes(1));
      other.close();
      assert.deepEqual(seen, []);
    });
  },
});
