/**
 * Streams through a real ZooKeeper: a provider with `workers` registers `feed.Feed`, and callers
 * that find it through the registry stream to every event loop.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { feedService, type FeedStub, type Num } from "../_helpers/feed.ts";

const ignore = !(await zkAvailable());
if (ignore) console.log("stream_discovery_test: skipped, no ZooKeeper server available");

const MODULE = new URL("../_fixtures/feed_worker_module.ts", import.meta.url);

function registry(connect: string): ZooKeeperRegistry {
  return new ZooKeeperRegistry({
    connect,
    sessionTimeoutMs: 4000,
    connectTimeoutMs: 5000,
    logger: new CaptureLogger(),
  });
}

Deno.test({
  name: "streams of every kind reach a provider with workers > 1 found through ZooKeeper",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const providerRegistry = registry(zk.connect);
    const provider = new RpcProvider({
      workers: 2,
      workerModule: MODULE,
      registry: providerRegistry,
      logger: new CaptureLogger(),
    });
    const callerRegistry = registry(zk.connect);
    const channels: RpcChannel[] = [];
    try {
      await provider.start();
      const service = await feedService();
      // One channel per connection: the kernel spreads connections over the event loops.
      for (let i = 0; i < 16; i++) {
        channels.push(new RpcChannel({ registry: callerRegistry, logger: new CaptureLogger() }));
      }
      const loops = new Set<string>();
      await Promise.all(channels.map(async (channel) => {
        const stub = channel.stub<FeedStub>(service);
        let sum = 0;
        for await (const m of stub.Count({ count: 100 })) {
          sum += m.n;
          loops.add(m.loop ?? "");
        }
        assert.equal(sum, 5050);
        const total = await stub.Sum((async function* (): AsyncGenerator<Num> {
          for (let i = 1; i <= 1000; i++) yield { n: i };
        })());
        assert.equal(total.n, 500_500);
        const echoed: number[] = [];
        const three = (async function* (): AsyncGenerator<Num> {
          yield* [{ n: 1 }, { n: 2 }, { n: 3 }];
        })();
        for await (const m of stub.Echo(three)) echoed.push(m.n);
        assert.deepEqual(echoed, [1, 2, 3]);
      }));
      console.log(`streams served by: ${[...loops].sort().join(", ")}`);
      assert.ok(
        [...loops].some((l) => l.startsWith("mprpc-provider-")),
        `a Worker served some of the 16 connections (${[...loops]})`,
      );
    } finally {
      for (const c of channels) await c.close();
      await provider.close({ graceMs: 0 });
      await callerRegistry.close();
      await providerRegistry.close();
    }
  },
});
