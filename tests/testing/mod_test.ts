/**
 * The `./testing` entry as a user's own test suite would use it: start a throw-away ZooKeeper,
 * point a `ZooKeeperRegistry` at it, and let `await using` clean up.
 */
import assert from "node:assert/strict";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { startZooKeeper, zkAvailable, type ZooKeeperServer } from "../../src/testing/mod.ts";

const ignore = !(await zkAvailable());

Deno.test({
  name: "./testing: a service registered through a registry on a started server resolves",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using provider = new ZooKeeperRegistry({ connect: zk.connect });
    await provider.register({
      service: "example.Greeter",
      methods: ["Greet"],
      host: "127.0.0.1",
      port: 50051,
    });
    await using caller = new ZooKeeperRegistry({ connect: zk.connect });
    const endpoints = await caller.resolve("example.Greeter");
    assert.deepEqual(endpoints.map((e) => `${e.host}:${e.port}`), ["127.0.0.1:50051"]);
  },
});

Deno.test({
  name: "./testing: leaving an await using scope frees the server's port and deletes its temp dir",
  ignore,
  async fn() {
    let seen: ZooKeeperServer | undefined;
    {
      await using zk = await startZooKeeper();
      seen = zk;
      assert.equal(zk.running, true);
      assert.ok((await Deno.stat(`${zk.dir}/zoo.cfg`)).isFile);
    }
    assert.equal(seen.running, false);
    await assert.rejects(Deno.stat(seen.dir), Deno.errors.NotFound);
    // Nothing listens there any more: the port can be bound again.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: seen.port });
    listener.close();
  },
});
