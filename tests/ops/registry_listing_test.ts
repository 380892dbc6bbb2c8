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
