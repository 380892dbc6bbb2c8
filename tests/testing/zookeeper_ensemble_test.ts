import assert from "node:assert/strict";
import { Buffer } from "../../src/deps.ts";
import { eventually } from "../_helpers/eventually.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";
import { startZooKeeperEnsemble, zkEnsembleAvailable } from "../../src/testing/mod.ts";

const ignore = !(await zkEnsembleAvailable());
if (ignore) console.log("zookeeper_ensemble_launcher_test: skipped, no local ZooKeeper install");

Deno.test({
  name: "startZooKeeperEnsemble: three members elect one leader, replicate writes, survive the " +
    "leader's kill -9, take it back as a follower, report a member dying by itself at once, " +
    "and stop freeing ports and the temp dir",
  ignore,
  async fn() {
    const zk = await startZooKeeperEnsemble({ size: 3 });
    try {
      assert.equal(zk.members.length, 3);
      assert.equal(zk.connect, zk.members.map((m) => `127.0.0.1:${m.port}`).join(","));
      const leader = await zk.waitQuorum();
      const modes = await Promise.all(zk.members.map((m) => m.mode()));
      assert.deepEqual(modes.filter((m) => m === "leader"), ["leader"]);
      assert.deepEqual(modes.filter((m) => m === "follower"), ["follower", "follower"]);
      assert.equal((await leader.mntr()).get("zk_server_state"), "leader");
      for (const m of zk.members) {
        assert.equal(await Deno.readTextFile(`${zk.dir}/${m.id}/data/myid`), `${m.id}\n`);
        assert.match(
          await Deno.readTextFile(`${zk.dir}/${m.id}/zoo.cfg`),
          /server\.1=127\.0\.0\.1:\d+:\d+\nserver\.2=127\.0\.0\.1:\d+:\d+\nserver\.3=/,
        );
      }
      {
        // A write through one member is read back through each of the others.
        await using writer = await connectZkClient(zk.members[0]!.connect);
        await writer.create("/ensemble", Buffer.from("replicated"));
      }
      for (const m of zk.members.slice(1)) {
        await using reader = await connectZkClient(m.connect);
        assert.equal((await reader.getData("/ensemble")).data?.toString(), "replicated");
      }

      await leader.kill();
      assert.equal(leader.running, false);
      assert.equal(await leader.mode(), undefined);
      const next = await zk.waitQuorum(30_000, [leader]);
      assert.notEqual(next, leader);
      await leader.restart();
      assert.equal(await zk.waitQuorum(), next, "the old leader rejoins as a follower");
      assert.equal(await leader.mode(), "follower");
      await using again = await connectZkClient(leader.connect);
      assert.equal((await again.getData("/ensemble")).data?.toString(), "replicated");

      // A member dying by itself (not through the launcher) is reported at once, with its log.
      const victim = zk.members.find((m) => m !== next)!;
      const status = new Deno.Command("kill", { args: ["-9", String(victim.pid)] }).outputSync();
      assert.ok(status.success);
      await eventually("the crash to be noticed", () => !victim.running);
      await assert.rejects(
        zk.waitQuorum(30_000),
        /member \d \(127\.0\.0\.1:\d+\) exited by itself/,
      );
      await victim.restart();
      assert.equal(victim.running, true);
      await zk.waitQuorum();
    } finally {
      await zk.stop();
    }
    await zk.stop(); // idempotent
    await assert.rejects(Deno.stat(zk.dir), Deno.errors.NotFound);
    for (const m of zk.members) {
      assert.equal(m.running, false);
      Deno.listen({ hostname: "127.0.0.1", port: m.port }).close();
    }
  },
});

Deno.test({
  name: "startZooKeeperEnsemble: an even or oversized ensemble is refused with a RangeError",
  ignore,
  async fn() {
    await assert.rejects(startZooKeeperEnsemble({ size: 2 }), RangeError);
    await assert.rejects(startZooKeeperEnsemble({ size: 9 }), RangeError);
    await assert.rejects(startZooKeeperEnsemble({ size: 3, clientPorts: [1] }), RangeError);
  },
});
