/**
 * ZooKeeper ACLs against a real server: a registry with digest auth creates nodes that anyone
 * can read (callers need no credentials) but only that identity can change, so a stranger can
 * neither delete a provider, nor rewrite its address, nor register a fake one.
 */
import assert from "node:assert/strict";
import { Buffer } from "../../src/deps.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { connectZkClient, startZooKeeper, zkAvailable } from "../_helpers/zookeeper.ts";

const canRun = await zkAvailable();
if (!canRun) console.log("zookeeper_acl_test: skipped, no ZooKeeper server available");

const SERVICE = "kitchen.Kitchen";
const REG = { service: SERVICE, methods: ["Echo"], host: "127.0.0.1", port: 7001 };
const NODE = `/mprpc/${SERVICE}/providers/127.0.0.1:7001`;

/** The ZooKeeper error name of a rejected operation (e.g. "NO_AUTH"). */
async function zkErrorName(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (e) {
    return (e as { name?: string }).name ?? String(e);
  }
}

Deno.test({
  name: "ZooKeeper ACL: digest-auth nodes are world-readable but only their owner may change them",
  ignore: !canRun,
  async fn() {
    await using zk = await startZooKeeper();
    const owner = new ZooKeeperRegistry({
      connect: zk.connect,
      auth: { scheme: "digest", id: "provider:s3cret" },
      sessionTimeoutMs: 4000,
    });
    try {
      await owner.register(REG);

      // A caller without credentials resolves the provider.
      await using reader = new ZooKeeperRegistry({ connect: zk.connect });
      const found = await reader.resolve(SERVICE);
      assert.deepEqual(found.map((e) => `${e.host}:${e.port}`), ["127.0.0.1:7001"]);

      // The ACL is: ALL for the digest identity, READ for the world.
      await using anon = await connectZkClient(zk.connect);
      const acl = await anon.getACL(NODE);
      const byScheme = Object.fromEntries(acl.map((a) => [a.id.scheme, a.permission]));
      assert.deepEqual(byScheme, { digest: 31, world: 1 });
      assert.match(acl.find((a) => a.id.scheme === "digest")!.id.id, /^provider:/);

      // A stranger (no auth, or the wrong password) may read but not delete, rewrite or add.
      await using wrong = await connectZkClient(zk.connect, { digest: "provider:guess" });
      for (const [who, c] of [["anonymous", anon], ["wrong password", wrong]] as const) {
        assert.ok((await c.getData(NODE)).data!.length > 0, `${who} cannot read`);
        assert.equal(await zkErrorName(c.remove(NODE)), "NO_AUTH", `${who} deleted the node`);
        assert.equal(
          await zkErrorName(c.setData(NODE, Buffer.from('{"host":"10.6.6.6","port":1}'))),
          "NO_AUTH",
          `${who} rewrote the node`,
        );
        assert.equal(
          await zkErrorName(c.create(`/mprpc/${SERVICE}/providers/10.6.6.6:1`, Buffer.from("{}"))),
          "NO_AUTH",
          `${who} registered a fake provider`,
        );
        assert.equal(
          await zkErrorName(c.remove(`/mprpc/${SERVICE}/providers`)),
          "NO_AUTH",
          `${who} deleted the providers directory`,
        );
      }
      assert.deepEqual(
        (await reader.resolve(SERVICE)).map((e) => `${e.host}:${e.port}`),
        ["127.0.0.1:7001"],
      );

      // The owner's credentials can change it.
      await using right = await connectZkClient(zk.connect, { digest: "provider:s3cret" });
      await right.setData(NODE, (await right.getData(NODE)).data!);
    } finally {
      await owner.close();
    }
  },
});
