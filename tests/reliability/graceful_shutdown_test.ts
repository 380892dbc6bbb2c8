/**
 * `provider.close({ graceMs })` under load, with a second provider: calls the closing provider
 * accepted finish normally, new calls move to the other provider, and none is lost.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";

const LOOPS = 20;
const SLEEP_MS = 40;

interface Outcome {
  token: string;
  ok: boolean;
  code?: number;
  aborted?: boolean;
}

async function underLoad(retries: number) {
  const registry = new StaticRegistry();
  await using a = await startKitchen({ provider: { registry } });
  await using b = await startKitchen({ provider: { registry } });
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({ registry, logger, timeoutMs: 5000 });
  const stub = channel.stub<KitchenStub>(a.service);
  const outcomes: Outcome[] = [];
  let stop = false;
  let seq = 0;
  const loop = async (l: number) => {
    while (!stop) {
      const token = `L${l}-${seq++}`;
      try {
        const res = await stub.Sleep({ ms: SLEEP_MS, token }, { retries });
        assert.equal(res.token, token, "a response was delivered to the wrong call");
        outcomes.push({ token, ok: true, aborted: res.aborted });
      } catch (e) {
        assert.ok(e instanceof RpcError, String(e));
        outcomes.push({ token, ok: false, code: e.code });
      }
    }
  };
  const loops = Array.from({ length: LOOPS }, (_, l) => loop(l));
  await new Promise((r) => setTimeout(r, 300));
  const startedOnA = a.tokens.length;
  assert.ok(startedOnA > 0 && b.tokens.length > 0, "both providers were serving");
  await a.provider.close({ graceMs: 2000 });
  const servedByA = new Set(a.tokens);
  const bBefore = b.tokens.length;
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(loops);
  return { outcomes, servedByA, bNew: b.tokens.length - bBefore, a, b };
}

Deno.test("graceful close under load with retries: every call succeeds, later ones on the other provider", async () => {
  const { outcomes, servedByA, bNew } = await underLoad(1);
  const failed = outcomes.filter((o) => !o.ok);
  assert.deepEqual(failed, [], `${failed.length} of ${outcomes.length} calls failed`);
  // Calls accepted by the closing provider ran to completion (not aborted by the shutdown).
  const aborted = outcomes.filter((o) => o.aborted);
  assert.deepEqual(aborted, []);
  assert.ok(bNew > LOOPS, `only ${bNew} calls reached the other provider after the close`);
  console.log(
    `graceful close (retries 1): ${outcomes.length} calls, all OK; ${servedByA.size} served by ` +
      `the closing provider, ${bNew} by the other after it closed`,
  );
});

Deno.test("graceful close under load without retries: no accepted call is lost", async () => {
  const { outcomes, servedByA } = await underLoad(0);
  for (const o of outcomes) {
    if (servedByA.has(o.token)) {
      // The closing provider started it: it must have completed normally.
      assert.ok(o.ok && !o.aborted, `accepted call ${o.token} was lost: ${JSON.stringify(o)}`);
    } else if (!o.ok) {
      // Never started anywhere: refused as UNAVAILABLE (safe to retry), never anything else.
      assert.equal(o.code, Code.UNAVAILABLE, `call ${o.token}: ${JSON.stringify(o)}`);
    }
  }
  const refused = outcomes.filter((o) => !o.ok).length;
  console.log(
    `graceful close (no retries): ${outcomes.length} calls, ${refused} refused UNAVAILABLE ` +
      `before starting, ${servedByA.size} accepted by the closing provider and all completed`,
  );
});
