/**
 * Discovery through a real 3-member ZooKeeper ensemble (src/testing/zookeeper_ensemble.ts)
 * while 64 callers keep calling: the leader killed, every member restarted in turn, the quorum
 * lost for 5 s. Providers and the caller run in this process, each with its own
 * ZooKeeperRegistry (own session) on the ensemble's full connect string; calls never touch
 * ZooKeeper, so none may fail, and what ZooKeeper holds must converge back.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { CallLoad } from "../_helpers/call_load.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { Events, kitchenImpl, kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { TcpProxy } from "../_helpers/tcp_proxy.ts";
import { connectZkClient } from "../../src/testing/_zk_client.ts";
import {
  startZooKeeperEnsemble,
  zkEnsembleAvailable,
  type ZooKeeperEnsemble,
} from "../../src/testing/mod.ts";

const ignore = !(await zkEnsembleAvailable());
if (ignore) console.log("zookeeper_ensemble_test: skipped, no local ZooKeeper install");

const SERVICE = "kitchen.Kitchen";
const PROVIDERS = `/mprpc/${SERVICE}/providers`;
/**
 * Session timeout of the registries (the registry's default): outlasts an election, a member's
 * restart and the 5 s without a quorum, even on a loaded machine.
 */
const SESSION_MS = 30_000;

/** Everything one scenario runs: the ensemble, providers, one caller, the call load. */
class Scenario {
  readonly closers: Array<() => Promise<unknown>> = [];
  readonly providers = new Map<string, { registry: ZooKeeperRegistry; provider: RpcProvider }>();
  readonly logs: CaptureLogger[] = [];
  callerRegistry!: ZooKeeperRegistry;
  stub!: KitchenStub;
  load: CallLoad | undefined;
  /** Calls answered per provider name. */
  readonly answered = new Map<string, number>();

  constructor(readonly zk: ZooKeeperEnsemble) {}

  registry(options: { connect?: string; sessionTimeoutMs?: number } = {}): ZooKeeperRegistry {
    const logger = new CaptureLogger();
    this.logs.push(logger);
    const registry = new ZooKeeperRegistry({
      connect: options.connect ?? this.zk.connect,
      sessionTimeoutMs: options.sessionTimeoutMs ?? SESSION_MS,
      connectTimeoutMs: 30_000,
      logger,
    });
    this.closers.push(() => registry.close());
    return registry;
  }

  /** Starts a provider whose Echo answers with `inner.label` = `name`, registered on its own. */
  async provider(
    name: string,
    options: { connect?: string; sessionTimeoutMs?: number } = {},
  ): Promise<RpcProvider> {
    const registry = this.registry(options);
    const provider = new RpcProvider({ registry, logger: new CaptureLogger() });
    provider.notifyService(await kitchenService(), {
      ...kitchenImpl(new Events(), []),
      Echo: (req: Record<string, unknown>, _ctx: CallContext) => ({
        ...req,
        inner: { label: name, values: [] },
      }),
    });
    this.closers.push(() => provider.close({ graceMs: 0 }));
    await provider.start();
    this.providers.set(name, { registry, provider });
    return provider;
  }

  /** A caller channel on its own registry, seeing `names` before it returns. */
  async caller(names: string[]): Promise<void> {
    this.callerRegistry = this.registry();
    const channel = new RpcChannel({
      registry: this.callerRegistry,
      logger: new CaptureLogger(),
      timeoutMs: 5000,
      connectTimeoutMs: 2000,
      loadBalancer: "round_robin",
    });
    this.closers.push(() => channel.close());
    this.stub = channel.stub<KitchenStub>(await kitchenService());
    await this.callerSees(names);
  }

  /** Waits until the caller's registry lists exactly the providers `names`. */
  async callerSees(names: string[], ms = 30_000): Promise<void> {
    const want = names.map((n) => this.#address(n)).sort().join(",");
    await eventually(`the caller to see ${names}`, async () => {
      const got = (await this.callerRegistry.resolve(SERVICE)).map((e) => `${e.host}:${e.port}`);
      return got.sort().join(",") === want;
    }, ms);
  }

  /** 64 concurrent callers of Echo, each pausing 25 ms between calls. */
  async startLoad(): Promise<CallLoad> {
    const load = this.load = new CallLoad(async (seq) => {
      const text = `call-${seq}`;
      const res = await this.stub.Echo({ text }, { retries: 0 });
      assert.equal(res.text, text);
      const label = (res.inner as { label: string }).label;
      this.answered.set(label, (this.answered.get(label) ?? 0) + 1);
    }, { concurrency: 64, pauseMs: 25 });
    this.closers.push(() => load.stop());
    await load.until((l) => l.ok >= 200);
    return load;
  }

  /** Waits for `n` more successful calls than now (the load goes on). */
  async moreCalls(n = 200): Promise<void> {
    const target = this.load!.ok + n;
    await this.load!.until((l) => l.ok >= target, 30_000);
  }

  /**
   * ZooKeeper's own view, read through a fresh plain client: provider node → owner session.
   * Waits until it lists exactly `names`, each owned by its registry's current session.
   */
  async nodesConverge(names: string[], ms = 30_000): Promise<Map<string, string>> {
    let last = new Map<string, string>();
    await eventually(`ZooKeeper to hold exactly ${names}`, async () => {
      await using plain = await connectZkClient(this.zk.connect, { timeoutMs: 5000 });
      last = new Map();
      for (const child of await plain.getChildren(PROVIDERS)) {
        const stat = await plain.exists(`${PROVIDERS}/${child}`);
        if (stat) last.set(child, hex(stat.ephemeralOwner));
      }
      return names.length === last.size && names.every((n) => {
        const p = this.providers.get(n)!;
        return last.get(this.#address(n)) === p.registry.sessionId;
      });
    }, ms).catch((err) => {
      throw new Error(`${err.message}; ZooKeeper holds ${JSON.stringify([...last])}`);
    });
    return last;
  }

  /** Log lines at WARN or above that say a provider node had to be re-created. */
  recreated(): number {
    return this.logs.flatMap((l) => l.lines).filter((l) => /re-created/.test(l.msg)).length;
  }

  #address(name: string): string {
    const { host, port } = this.providers.get(name)!.provider.address;
    return `${host}:${port}`;
  }

  async close(): Promise<void> {
    for (const fn of this.closers.splice(0).reverse()) await fn();
  }
}

function hex(id: Uint8Array): string {
  return "0x" + Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs `fn` with a fresh ensemble and scenario, always cleaning both up. */
async function withEnsemble(fn: (s: Scenario) => Promise<void>): Promise<void> {
  await using zk = await startZooKeeperEnsemble({ size: 3, maxSessionTimeout: 30_000 });
  const s = new Scenario(zk);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

Deno.test({
  name: "ZooKeeper ensemble: kill -9 of the leader under load fails no call, keeps every " +
    "provider's node in its session, and a provider started during the election registers",
  ignore,
  async fn() {
    await withEnsemble(async (s) => {
      await s.provider("a");
      await s.provider("b");
      await s.caller(["a", "b"]);
      const before = await s.nodesConverge(["a", "b"]);
      const load = await s.startLoad();

      const leader = await s.zk.waitQuorum();
      const killedAt = performance.now();
      await leader.kill();
      // Registers while the survivors elect: it waits for a quorum, then writes its node.
      const late = s.provider("c");
      const next = await s.zk.waitQuorum(30_000, [leader]);
      const electedMs = Math.round(performance.now() - killedAt);
      assert.notEqual(next, leader);
      await late;
      await s.callerSees(["a", "b", "c"]);
      console.log(
        `leader killed: new leader serving after ${electedMs} ms; provider started meanwhile ` +
          `seen by the caller ${Math.round(performance.now() - killedAt)} ms after the kill`,
      );
      await s.moreCalls();

      const after = await s.nodesConverge(["a", "b", "c"]);
      for (const [node, owner] of before) {
        assert.equal(after.get(node), owner, `${node} kept its session across the election`);
      }
      await load.stop();
      assert.equal(load.failed, 0, load.summary());
      assert.equal(s.recreated(), 0, "no provider node had to be re-created");
    });
  },
});

Deno.test({
  name: "ZooKeeper ensemble: restarting every member in turn under load fails no call and " +
    "loses no registration",
  ignore,
  async fn() {
    await withEnsemble(async (s) => {
      await s.provider("a");
      await s.provider("b");
      await s.caller(["a", "b"]);
      const before = await s.nodesConverge(["a", "b"]);
      const load = await s.startLoad();

      for (const member of s.zk.members) {
        await member.restart(); // SIGTERM, start, serving again as part of the quorum
        await s.zk.waitQuorum(30_000);
        await s.moreCalls();
      }

      const after = await s.nodesConverge(["a", "b"]);
      assert.deepEqual(after, before, "same nodes, same owner sessions");
      await s.callerSees(["a", "b"]);
      await load.stop();
      assert.equal(load.failed, 0, load.summary());
      assert.equal(s.recreated(), 0, "no provider node had to be re-created");
    });
  },
});

Deno.test({
  name: "ZooKeeper ensemble: with 2 of 3 members down for 5 s calls go on from the cache, and " +
    "once the quorum is back every registration converges, including one made during the outage",
  ignore,
  async fn() {
    await withEnsemble(async (s) => {
      await s.provider("a");
      await s.provider("b");
      await s.caller(["a", "b"]);
      await s.nodesConverge(["a", "b"]);
      const load = await s.startLoad();

      const leader = await s.zk.waitQuorum();
      const follower = s.zk.members.find((m) => m !== leader)!;
      await Promise.all([leader.kill(), follower.kill()]);
      const okAtLoss = load.ok;
      const late = s.provider("d"); // waits for a quorum
      await new Promise((r) => setTimeout(r, 5000)); // the outage under test
      const okInOutage = load.ok - okAtLoss;
      assert.ok(okInOutage > 0, `calls went on without a quorum: ${load.summary()}`);

      const restartAt = performance.now();
      await Promise.all([leader.restart(), follower.restart()]);
      await s.zk.waitQuorum(30_000);
      const quorumAt = performance.now();
      await late;
      await s.callerSees(["a", "b", "d"]);
      await s.nodesConverge(["a", "b", "d"]);
      const convergedMs = Math.round(performance.now() - quorumAt);
      console.log(
        `quorum lost 5 s (${okInOutage} calls served from the cache meanwhile); members ` +
          `restarted and serving after ${Math.round(quorumAt - restartAt)} ms; then caller and ` +
          `ZooKeeper converged in ${convergedMs} ms`,
      );
      await s.moreCalls();
      await load.stop();
      assert.equal(load.failed, 0, load.summary());
    });
  },
});

Deno.test({
  name: "ZooKeeper ensemble: a provider cut off from ZooKeeper but not from its callers loses " +
    "its session; callers drain it without a failed call and take it back once it re-registers",
  ignore,
  async fn() {
    await withEnsemble(async (s) => {
      // Provider "a" reaches every member through a proxy that can be cut; callers reach it.
      const proxies = s.zk.members.map((m) =>
        new TcpProxy({ hostname: "127.0.0.1", port: m.port })
      );
      s.closers.push(() => Promise.all(proxies.map((p) => p.close())));
      const viaProxies = proxies.map((p) => `127.0.0.1:${p.port}`).join(",");
      await s.provider("a", { connect: viaProxies, sessionTimeoutMs: 3000 });
      await s.provider("b");
      await s.caller(["a", "b"]);
      const load = await s.startLoad();
      await s.moreCalls();
      assert.ok((s.answered.get("a") ?? 0) > 0, "a serves before the partition");

      for (const p of proxies) p.cut();
      // Its session expires on the ensemble: the node goes, the caller moves every call to b.
      await s.callerSees(["b"]);
      await s.moreCalls(); // calls in flight to a finish; later calls go to b only
      const drained = s.answered.get("a") ?? 0;
      await s.moreCalls();
      assert.equal(
        s.answered.get("a") ?? 0,
        drained,
        "no call goes to a once it is not advertised",
      );

      for (const p of proxies) p.heal();
      await s.callerSees(["a", "b"]);
      await s.nodesConverge(["a", "b"]); // a's node again, owned by its new session
      await s.load!.until(() => (s.answered.get("a") ?? 0) > drained, 30_000);
      await load.stop();
      assert.equal(load.failed, 0, load.summary());
      assert.ok(s.recreated() >= 1, "a's registry logged that it re-created its node");
    });
  },
});
