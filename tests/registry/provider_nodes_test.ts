/**
 * What a provider's registration costs ZooKeeper, counted in transactions (the server's zxid,
 * from `srvr`): every write, failed ones included, is a transaction through the leader, so a
 * mass restart of providers costs what one registration costs, times the providers.
 */
import assert from "node:assert/strict";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { fourLetterWord } from "../../src/testing/_four_letter_words.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";

const ignore = !(await zkAvailable());

/** The server's last zxid (transactions since it started, within one leader epoch). */
async function zxid(port: number): Promise<number> {
  const text = await fourLetterWord(port, "srvr");
  const hex = /Zxid: 0x([0-9a-f]+)/.exec(text)?.[1];
  assert.ok(hex, `srvr answered ${JSON.stringify(text)}`);
  return Number(BigInt(`0x${hex}`) & 0xffffffffn);
}

function registry(connect: string): ZooKeeperRegistry {
  return new ZooKeeperRegistry({ connect, sessionTimeoutMs: 4000, logger: new CaptureLogger() });
}

const reg = (port: number) => ({
  service: "kitchen.Kitchen",
  methods: ["Echo"],
  host: "127.0.0.1",
  port,
});

Deno.test({
  name: "a provider's first registration costs ZooKeeper its session and the missing nodes, " +
    "with no failing create; the next provider of the service only its session and its node",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const z0 = await zxid(zk.port);
    await using first = registry(zk.connect);
    await first.register(reg(7001));
    const z1 = await zxid(zk.port);
    // createSession, /mprpc, /mprpc/kitchen.Kitchen, .../providers, .../providers/127.0.0.1:7001
    assert.equal(z1 - z0, 5, "transactions of the first registration");

    await using second = registry(zk.connect);
    await second.register(reg(7002));
    const z2 = await zxid(zk.port);
    assert.equal(z2 - z1, 2, "transactions of the second registration: createSession, its node");

    await using plain = await connectZkClient(zk.connect);
    assert.deepEqual(await plain.getChildren("/mprpc/kitchen.Kitchen/providers"), [
      "127.0.0.1:7001",
      "127.0.0.1:7002",
    ]);
  },
});

Deno.test({
  name: "providers of a new service under an existing root create only the service's nodes",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using other = registry(zk.connect);
    await other.register({ ...reg(7001), service: "other.Service" });
    const z0 = await zxid(zk.port);
    await using provider = registry(zk.connect);
    await provider.register(reg(7002));
    // createSession, /mprpc/kitchen.Kitchen, .../providers, .../providers/127.0.0.1:7002
    assert.equal((await zxid(zk.port)) - z0, 4);
  },
});
