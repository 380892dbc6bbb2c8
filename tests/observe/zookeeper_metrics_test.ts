import assert from "node:assert/strict";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";
import { renderPrometheus } from "../../src/observe/prometheus.ts";
import { echoImpl, echoService } from "../_helpers/echo_service.ts";
import { kitchenService } from "../_helpers/kitchen.ts";
import { eventually } from "../_helpers/eventually.ts";
import { expireSession } from "../_helpers/expire_session.ts";

const ignore = !(await zkAvailable());
if (ignore) console.log("zookeeper_metrics_test: skipped, no ZooKeeper server available");

Deno.test({
  name: "a provider's metrics follow its ZooKeeper session through an expiry and re-registration",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const registry = new ZooKeeperRegistry({ connect: zk.connect, sessionTimeoutMs: 4000 });
    const provider = new RpcProvider({ registry }).notifyService(echoService, echoImpl);
    try {
      assert.equal(provider.metrics().zookeeper?.state, "idle");
      await provider.start();
      assert.deepEqual(provider.metrics().zookeeper, {
        state: "connected",
        reconnects: 0,
        sessionsReplaced: 0,
        reregistrations: 0,
      });
      await expireSession(zk.connect, registry.sessionId!);
      const after = await eventually("the provider's node to be re-created", () => {
        const z = provider.metrics().zookeeper;
        return z?.reregistrations === 1 && z.state === "connected" ? z : undefined;
      }, 20_000);
      assert.equal(after.sessionsReplaced, 1);
      const text = renderPrometheus([provider.metrics()]);
      assert.ok(text.includes("mprpc_server_zookeeper_connected 1\n"));
      assert.ok(text.includes("mprpc_server_zookeeper_reregistrations_total 1\n"));
      assert.ok(text.includes("mprpc_server_zookeeper_sessions_replaced_total 1\n"));
    } finally {
      await provider.close();
      await registry.close();
    }
    assert.equal(registry.sessionStats().state, "closed");
  },
});

Deno.test({
  name: "listServices() lists every service under the root, with providers or not",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const registries = [0, 1].map(() => new ZooKeeperRegistry({ connect: zk.connect }));
    const providers = [
      new RpcProvider({ registry: registries[0] }).notifyService(echoService, echoImpl),
      new RpcProvider({ registry: registries[1] }).notifyService(await kitchenService(), {
        Echo: (req) => req,
      }),
    ];
    try {
      for (const p of providers) await p.start();
      assert.deepEqual(await registries[0]!.listServices(), ["kitchen.Kitchen", "obs.Echo"]);
      await providers[1]!.close();
      // The service's node stays (persistent); its provider is gone.
      assert.deepEqual(await registries[0]!.listServices(), ["kitchen.Kitchen", "obs.Echo"]);
      await eventually(
        "the closed provider's node to go",
        async () => (await registries[0]!.resolve("kitchen.Kitchen")).length === 0,
      );
    } finally {
      for (const p of providers) await p.close();
      for (const r of registries) await r.close();
    }
  },
});
