/**
 * A rolling restart through ZooKeeper under load, without `retries`: each provider in turn is
 * closed with `close({ graceMs })` and replaced, with a few ms of latency between caller and
 * providers. Calls the closing provider accepted finish; calls
 * it never started (sent after its GOAWAY's last call id, or answered "not started") are sent
 * again transparently to the other provider. No call fails, and no handler runs twice for one
 * call.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcError } from "../../src/errors.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { DelayedRegistry } from "../_helpers/delay_proxy.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";

const canRun = await zkAvailable();
if (!canRun) console.log("rolling_restart_test: skipped, no ZooKeeper server available");

const CALLERS = 64;
const SLEEP_MS = 20;
const ROUNDS = 2;
const LATENCY_MS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "a rolling restart of two providers through ZooKeeper under 64 callers fails no call and runs each once",
  ignore: !canRun,
  async fn() {
    await using zk = await startZooKeeper();
    const service = await kitchenService();
    const logger = new CaptureLogger();
    /** Handler runs per call token, across every provider. */
    const runs = new Map<string, number>();
    const served: Record<string, number> = {};

    interface Running {
      name: string;
      provider: RpcProvider;
      registry: ZooKeeperRegistry;
    }
    const start = async (name: string): Promise<Running> => {
      const registry = new ZooKeeperRegistry({ connect: zk.connect, logger });
      const provider = new RpcProvider({ registry, logger });
      provider.notifyService(service, {
        async Sleep(req: { ms: number; token: string }, ctx: CallContext) {
          runs.set(req.token, (runs.get(req.token) ?? 0) + 1);
          served[name] = (served[name] ?? 0) + 1;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, req.ms);
            ctx.signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve();
            });
          });
          return { token: req.token, aborted: ctx.signal.aborted };
        },
      });
      await provider.start();
      return { name, provider, registry };
    };
    const stop = async (r: Running) => {
      await r.provider.close({ graceMs: 2000 });
      await r.registry.close();
    };

    const running = [await start("a1"), await start("b1")];
    // The channel reaches the providers through proxies adding LATENCY_MS each way, so requests
    // are on the wire when a GOAWAY is, as between hosts.
    const channelRegistry = new DelayedRegistry(
      new ZooKeeperRegistry({ connect: zk.connect, logger }),
      LATENCY_MS,
    );
    const channel = new RpcChannel({ registry: channelRegistry, logger, timeoutMs: 10_000 });
    const stub = channel.stub<KitchenStub>(service);

    const failures: string[] = [];
    let calls = 0;
    let ok = 0;
    let stopLoad = false;
    const loop = async (l: number) => {
      for (let i = 0; !stopLoad; i++) {
        const token = `${l}.${i}`;
        calls++;
        try {
          const res = await stub.Sleep({ ms: SLEEP_MS, token });
          assert.equal(res.token, token);
          if (res.aborted) failures.push(`${token}: aborted by the shutdown`);
          else ok++;
        } catch (e) {
          failures.push(`${token}: ${e instanceof RpcError ? e.toString() : String(e)}`);
        }
      }
    };
    const loops = Array.from({ length: CALLERS }, (_, l) => loop(l));
    try {
      await sleep(200);
      // Replace a by its next generation, then b, each while the other serves; ROUNDS times.
      for (let round = 2; round < 2 + ROUNDS; round++) {
        for (const [i, side] of [[0, "a"], [1, "b"]] as const) {
          const old = running[i]!;
          running[i] = await start(`${side}${round}`);
          await sleep(100);
          await stop(old);
          await sleep(100);
        }
      }
    } finally {
      stopLoad = true;
      await Promise.all(loops);
      await channel.close();
      await channelRegistry.close();
      await Promise.all(running.map(stop));
    }
    const twice = [...runs].filter(([, n]) => n > 1).map(([t, n]) => `${t} ran ${n}x`);
    const resentLines = logger.find("debug", "never started");
    const resent = resentLines.length;
    const why = new Set(resentLines.map((l) => String(l.fields.error)));
    console.log(
      `rolling restart: ${calls} calls, ${ok} ok, ${failures.length} failed; served ` +
        `${JSON.stringify(served)}; ${resent} sent again because a provider never started them (${
          [...why].join("; ")
        })`,
    );
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${calls} calls failed`);
    assert.deepEqual(twice, [], "a handler ran more than once for one call");
    const last = `${1 + ROUNDS}`;
    assert.ok(served[`a${last}`]! > 0 && served[`b${last}`]! > 0, "the replacements served");
  },
});
