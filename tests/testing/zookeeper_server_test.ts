import assert from "node:assert/strict";
import { Buffer } from "../../src/deps.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";

const ignore = !(await zkAvailable());

Deno.test({
  name: "startZooKeeper: a plain client connects and creates a node; restart keeps the data",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    assert.equal(zk.connect, `127.0.0.1:${zk.port}`);
    assert.equal(zk.running, true);
    {
      await using client = await connectZkClient(zk.connect);
      assert.equal(await client.create("/launcher", Buffer.from("hello")), "/launcher");
      assert.equal((await client.getData("/launcher")).data?.toString(), "hello");
    }
    await zk.restart();
    assert.equal(zk.running, true);
    await using again = await connectZkClient(zk.connect);
    assert.equal((await again.getData("/launcher")).data?.toString(), "hello");
  },
});

Deno.test({
  name: "startZooKeeper: stop frees the port and deletes the temp dir, and is idempotent",
  ignore,
  async fn() {
    const zk = await startZooKeeper();
    await zk.stop();
    await zk.stop();
    assert.equal(zk.running, false);
    await assert.rejects(Deno.stat(zk.dir), Deno.errors.NotFound);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: zk.port });
    listener.close();
  },
});

Deno.test({
  name: "startZooKeeper: kill then restart brings the same server back on the same port",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    {
      await using client = await connectZkClient(zk.connect);
      await client.create("/kept");
    }
    await zk.kill();
    assert.equal(zk.running, false);
    await assert.rejects(
      connectZkClient(zk.connect, { timeoutMs: 300 }),
      /unreachable after 300 ms/,
    );
    await zk.restart();
    await using client = await connectZkClient(zk.connect);
    assert.notEqual(await client.exists("/kept"), null);
  },
});

Deno.test({
  name: "startZooKeeper: the port option is honoured and minSessionTimeout bounds sessions",
  ignore,
  async fn() {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    await using zk = await startZooKeeper({
      port,
      tickTime: 200,
      minSessionTimeout: 1500,
      maxSessionTimeout: 3000,
    });
    assert.equal(zk.port, port);
    await using client = await connectZkClient(zk.connect, { sessionTimeout: 100 });
    assert.equal(client.raw.getSessionTimeout(), 1500);
  },
});
