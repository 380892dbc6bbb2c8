/**
 * Chaos with real processes and a real ZooKeeper: three provider processes registered in
 * ZooKeeper, a caller driving steady load, and meanwhile one provider is killed with SIGKILL,
 * another frozen with SIGSTOP (and thawed), ZooKeeper is restarted, and a replacement provider
 * joins. Every call must end, within its deadline plus a little, either with the response to
 * ITS request (each carries a unique token the response echoes) or with a well-defined status;
 * no call may hang.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, codeName, RpcError } from "../../src/errors.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { type ProviderProcess, spawnProvider } from "../_helpers/provider_process.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";

const canRun = await zkAvailable();
if (!canRun) console.log("chaos_test: skipped, no ZooKeeper server available");

const LOOPS = 50;
const DEADLINE_MS = 1000;
/** Event-loop lag on a 2-core machine running ZooKeeper, four Deno processes and the suite. */
const SLACK_MS = 750;
const RUN_MS = 13_000;
const ALLOWED = new Set<number>([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "chaos: kill -9, SIGSTOP and a ZooKeeper restart under load; no hang, no misdelivery",
  ignore: !canRun,
  async fn() {
    await using zk = await startZooKeeper();
    const spawn = (name: string) =>
      spawnProvider({
        name,
        zk: zk.connect,
        args: ["--zk-session-timeout-ms=4000", "--grace-ms=500"],
      });
    const procs: ProviderProcess[] = await Promise.all(["p1", "p2", "p3"].map(spawn));
    const logger = new CaptureLogger();
    const registry = new ZooKeeperRegistry({ connect: zk.connect, sessionTimeoutMs: 4000, logger });
    const channel = new RpcChannel({
      registry,
      logger,
      timeoutMs: DEADLINE_MS,
      keepaliveMs: 200,
      keepaliveTimeoutMs: 300,
      connectTimeoutMs: 300,
    });
    const stub = channel.stub<KitchenStub>(await kitchenService());

    const counts = { calls: 0, ok: 0, wrongToken: 0, notRpcError: 0, late: 0 };
    const codes: Record<string, number> = {};
    const byProvider: Record<string, number> = {};
    const lastSeen: Record<string, number> = {};
    const outstanding = new Map<string, number>();
    let maxLatency = 0;
    let stop = false;
    const loop = async (l: number) => {
      for (let i = 0; !stop; i++) {
        const token = `${l}.${i}.${crypto.randomUUID()}`;
        const t0 = Date.now();
        outstanding.set(token, t0);
        counts.calls++;
        try {
          const res = await stub.Echo({ text: token }, { retries: 2, timeoutMs: DEADLINE_MS });
          if (res.text !== token) counts.wrongToken++;
          else counts.ok++;
          const who = (res.inner as { label: string }).label;
          byProvider[who] = (byProvider[who] ?? 0) + 1;
          lastSeen[who] = Date.now();
        } catch (e) {
          if (!(e instanceof RpcError)) counts.notRpcError++;
          const name = e instanceof RpcError ? codeName(e.code) : String(e);
          codes[name] = (codes[name] ?? 0) + 1;
          if (e instanceof RpcError && !ALLOWED.has(e.code)) {
            codes[`${name}: ${e.message}`] = (codes[`${name}: ${e.message}`] ?? 0) + 1;
          }
        }
        const latency = Date.now() - t0;
        maxLatency = Math.max(maxLatency, latency);
        if (latency > DEADLINE_MS + SLACK_MS) counts.late++;
        outstanding.delete(token);
        if (latency < 5) await sleep(5); // steady load, not a busy loop when failing fast
      }
    };

    const timeline: string[] = [];
    const started = Date.now();
    let lastMark = { at: started, calls: 0 };
    const mark = (what: string) => {
      const now = Date.now();
      const rate = Math.round(
        (counts.calls - lastMark.calls) * 1000 / Math.max(1, now - lastMark.at),
      );
      timeline.push(`${now - started}ms ${what} (${rate} calls/s before)`);
      lastMark = { at: now, calls: counts.calls };
    };
    // A hang inside a helper would otherwise stall the suite silently: say where we are.
    const watchdog = setTimeout(() => {
      console.error(
        `chaos_test still running after 60 s: ${timeline.join("; ")}; ` +
          `${outstanding.size} calls outstanding`,
      );
    }, 60_000);
    let loops: Promise<void>[] = [];
    try {
      assert.equal((await registry.resolve("kitchen.Kitchen")).length, 3);
      loops = Array.from({ length: LOOPS }, (_, l) => loop(l));
      await sleep(1500);
      procs[0]!.signal("SIGKILL");
      mark("p1 killed (SIGKILL)");
      await sleep(2000);
      procs[1]!.signal("SIGSTOP");
      mark("p2 frozen (SIGSTOP)");
      await sleep(2000);
      mark("ZooKeeper restarting");
      await zk.restart();
      mark("ZooKeeper back");
      await sleep(1500);
      procs[1]!.signal("SIGCONT");
      mark("p2 thawed (SIGCONT)");
      procs.push(await spawn("p4"));
      mark("p4 started");
      await sleep(Math.max(0, RUN_MS - (Date.now() - started)));
    } finally {
      stop = true;
      mark("load stopped");
      // Every call must settle by its deadline (plus slack); anything left is a hang.
      let guardTimer: ReturnType<typeof setTimeout> | undefined;
      const guard = new Promise((r) => guardTimer = setTimeout(r, DEADLINE_MS + SLACK_MS + 500));
      await Promise.race([Promise.all(loops), guard]);
      clearTimeout(guardTimer);
      const hung = [...outstanding.entries()].map(([t, at]) => `${t} (${Date.now() - at} ms)`);
      await channel.close();
      await Promise.all(loops);
      await registry.close();
      await Promise.all(procs.map((p) => p.stop(1000)));
      clearTimeout(watchdog);
      console.log(
        `chaos: ${counts.calls} calls, ${counts.ok} ok, errors ${JSON.stringify(codes)}, ` +
          `max latency ${maxLatency} ms, by provider ${JSON.stringify(byProvider)}\n  ` +
          timeline.join("\n  "),
      );
      assert.deepEqual(hung, [], "calls never settled");
    }
    assert.equal(counts.wrongToken, 0, "responses delivered to the wrong call");
    assert.equal(counts.notRpcError, 0, "a call failed with something other than an RpcError");
    for (const name of Object.keys(codes)) {
      assert.ok(
        ["UNAVAILABLE", "DEADLINE_EXCEEDED"].includes(name),
        `unexpected failure ${name} (${codes[name]}x)`,
      );
    }
    assert.equal(
      counts.late,
      0,
      `calls took over ${DEADLINE_MS + SLACK_MS} ms (max ${maxLatency})`,
    );
    assert.ok(
      counts.ok / counts.calls >= 0.9,
      `only ${counts.ok} of ${counts.calls} calls succeeded`,
    );
    // The survivors and the newcomer served at the end; the killed one did not after its death.
    const end = started + RUN_MS - 1500;
    for (const name of ["p2", "p3", "p4"]) {
      assert.ok((lastSeen[name] ?? 0) >= end, `${name} served nothing in the last 1.5 s`);
    }
  },
});
