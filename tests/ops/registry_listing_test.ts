/**
 * listRegistry reads what ZooKeeper holds, as written by real registries and by other tools.
 */
import assert from "node:assert/strict";
import { Buffer } from "../../src/deps.ts";
import { listRegistry } from "../../src/ops/registry_listing.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { TcpProxy } from "../_helpers/tcp_proxy.ts";
import { Code, RpcError } from "../../src/errors.ts";

const ignore = !(await zkAvailable());

Deno.test({
  name: "listRegistry lists native and C++ providers with their session and creation time",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const registry = new ZooKeeperRegistry({ connect: zk.connect, logger: new CaptureLogger() });
    await using raw = await connectZkClient(zk.connect);
    try {
      const before = Date.now() - 60_000; // ZooKeeper's clock, not ours: allow for skew
      await registry.register({
        service: "shop.Orders",
        methods: ["Find", "Put"],
        host: "127.0.0.1",
        port: 7001,
        weight: 2,
        legacy: true,
      });
      // Written by other tools: a node of this layout with bad data, and an unrelated tree.
      await raw.mkdirp("/mprpc/shop.Orders/providers");
      await raw.create(
        "/mprpc/shop.Orders/providers/127.0.0.1:7002",
        Buffer.from(JSON.stringify({ host: "127.0.0.1", port: 70000 })),
      );
      await raw.mkdirp("/other/config");
      await raw.setData("/other/config", Buffer.from("not an address"));
      const list = await listRegistry(zk.connect);
      assert.deepEqual(
        list.map((p) => [p.service, p.address, p.layout, p.methods, p.weight, p.problem]),
        [
          ["Orders", "127.0.0.1:7001", "cpp", ["Find", "Put"], 1, undefined],
          ["shop.Orders", "127.0.0.1:7001", "native", ["Find", "Put"], 2, undefined],
          ["shop.Orders", "127.0.0.1:7002", "native", [], 1, "port 70000 out of range 1..65535"],
        ],
      );
      const [cpp, native, bad] = list;
      assert.match(native!.session, /^0x[0-9a-f]{16}$/);
      assert.equal(cpp!.session, native!.session); // one registry, one session
      assert.equal(bad!.session, ""); // created persistent: no owning session
      for (const p of list) {
        assert.ok(p.registeredAt > before && p.registeredAt < Date.now() + 60_000);
      }
      assert.deepEqual(await listRegistry(zk.connect, { root: "/elsewhere" }), [
        list[0], // the C++ layout lives at the top level whatever the root
      ]);
      // Three nodes to read (one service, two providers) are more than maxNodes 2.
      await assert.rejects(listRegistry(zk.connect, { maxNodes: 2 }), (e) => {
        assert.ok(e instanceof RpcError);
        assert.equal(e.code, Code.RESOURCE_EXHAUSTED, e.message);
        assert.equal(
          e.message,
          `ZooKeeper ${zk.connect} holds more nodes than a listing reads at most ` +
            "(maxNodes 2): 3 listed, the last 2 under /mprpc/shop.Orders/providers",
        );
        return true;
      });
      assert.equal((await listRegistry(zk.connect, { maxNodes: 100 })).length, 3);
    } finally {
      await registry.close();
    }
  },
});

Deno.test("listRegistry fails UNAVAILABLE when ZooKeeper does not answer in time", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 }); // accepts, never answers
  await assert.rejects(
    listRegistry(`127.0.0.1:${listener.addr.port}`, { timeoutMs: 300 }),
    (e) => e instanceof RpcError && e.code === Code.UNAVAILABLE && /within 300 ms/.test(e.message),
  );
});

Deno.test("listRegistry refuses a timeoutMs or maxNodes that is not a positive integer", async () => {
  for (
    const options of [{ timeoutMs: 0 }, { timeoutMs: NaN }, { maxNodes: -1 }, { maxNodes: 1.5 }]
  ) {
    await assert.rejects(listRegistry("127.0.0.1:1", options), RangeError, JSON.stringify(options));
  }
});

/** How long after its deadline (or a reference timer set with it, when that fired late) a listing may end. */
const SLACK_MS = 100;

Deno.test({
  name: "listRegistry: a ZooKeeper that stops answering mid-listing fails UNAVAILABLE within " +
    "timeoutMs, naming the address and the node being read",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    {
      await using raw = await connectZkClient(zk.connect);
      await raw.mkdirp("/mprpc/shop.Orders/providers");
    }
    const target = { hostname: "127.0.0.1", port: zk.port };
    // Answers 1: the session handshake; 2: the root's children. Silent after `answers` of them.
    for (
      const [answers, reading] of [
        [1, "/mprpc"],
        [2, "/mprpc/shop.Orders/providers"],
      ] as const
    ) {
      // The cut makes the point exact (ZooKeeper answers faster than a signal lands); the
      // SIGSTOP keeps it silent (a cut alone would still pass on the server closing the
      // connection when it expires the session).
      let seen = 0;
      let paused: Promise<void> | undefined;
      await using proxy: TcpProxy = new TcpProxy(target, {
        onTargetData: () => {
          if (++seen !== answers) return;
          proxy.cut();
          paused = zk.pause();
        },
      });
      const timeoutMs = 1500;
      const reference = new Promise<number>((r) => setTimeout(() => r(Date.now()), timeoutMs));
      const started = Date.now();
      const err = await listRegistry(`127.0.0.1:${proxy.port}`, { timeoutMs }).then(
        (v) => assert.fail(`expected UNAVAILABLE, got ${JSON.stringify(v)}`),
        (e) => e,
      );
      const at = Date.now();
      assert.ok(err instanceof RpcError, `expected an RpcError, got ${err}`);
      assert.equal(err.code, Code.UNAVAILABLE, err.message);
      assert.equal(
        err.message,
        `ZooKeeper 127.0.0.1:${proxy.port} did not answer within ${timeoutMs} ms ` +
          `(reading ${reading})`,
      );
      assert.equal(seen, answers, "the proxy went silent where the test meant it to");
      const bound = Math.max(started + timeoutMs, await reference) + SLACK_MS;
      assert.ok(at <= bound, `ended ${at - bound} ms after its bound`);
      await paused;
      await zk.resume();
    }
  },
});

Deno.test({
  name: "listRegistry: a connection lost mid-listing fails UNAVAILABLE at once, naming the " +
    "address and the read",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    {
      await using raw = await connectZkClient(zk.connect);
      await raw.mkdirp("/mprpc/shop.Orders/providers");
    }
    // Answers 1: the session handshake; 2: the root's children. Closed after them.
    let seen = 0;
    await using proxy: TcpProxy = new TcpProxy({ hostname: "127.0.0.1", port: zk.port }, {
      onTargetData: () => ++seen === 2 && proxy.heal(), // closes every connection through it
    });
    await assert.rejects(listRegistry(`127.0.0.1:${proxy.port}`, { timeoutMs: 60_000 }), (e) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, Code.UNAVAILABLE, e.message);
      assert.equal(
        e.message,
        `ZooKeeper 127.0.0.1:${proxy.port}: getChildren /mprpc/shop.Orders/providers failed: ` +
          "CONNECTION_LOSS (-4)",
      );
      return true;
    });
  },
});
