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
import { FrameSocket, startRawServer } from "../_helpers/raw_tcp.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import { encodeRoute, Kind } from "../../src/wire/meta.ts";

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

Deno.test("a closing provider's GOAWAY names the last call it accepted, and refuses later ones as not started", async () => {
  await using k = await startKitchen();
  const sleep = describeMethod(k.service.methods["Sleep"]!);
  const route = encodeRoute("kitchen.Kitchen", "Sleep");
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send({ kind: Kind.PING, callId: 0 });
  assert.equal((await raw.next())?.meta.kind, Kind.PONG);
  const request = (token: string) => sleep.request.encode({ ms: 200, token });
  await raw.send({ kind: Kind.REQUEST, callId: 41, route }, request("accepted"));
  await k.events.wait("started:accepted");
  const closed = k.provider.close({ graceMs: 2000 });
  const goaway = await raw.next();
  assert.equal(goaway?.meta.kind, Kind.GOAWAY);
  assert.equal(goaway?.meta.lastCallId, 41);
  assert.equal(goaway?.meta.notStarted, true);
  await raw.send({ kind: Kind.REQUEST, callId: 42, route }, request("late"));
  const refused = await raw.next();
  assert.equal(refused?.meta.callId, 42);
  assert.equal(refused?.meta.status, Code.UNAVAILABLE);
  assert.equal(refused?.meta.notStarted, true);
  const done = await raw.next();
  assert.equal(done?.meta.callId, 41);
  assert.equal(done?.meta.status, 0, "the accepted call finished");
  assert.equal(await raw.next(), null);
  raw.close();
  await closed;
  assert.deepEqual(k.tokens, ["accepted"], "the refused call never ran");
});

Deno.test("a call a provider answers 'not started' is sent to another provider, without retries", async () => {
  // Provider "gone" accepts connections but answers every call "not started" (as a provider
  // that just sent GOAWAY does); the kitchen serves.
  let refused = 0;
  await using gone = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    for (let f = await s.next(10_000); f !== null; f = await s.next(10_000)) {
      if (f.meta.kind !== Kind.REQUEST) continue;
      refused++;
      await s.send({
        kind: Kind.RESPONSE,
        callId: f.meta.callId,
        status: Code.UNAVAILABLE,
        errorMessage: "provider is going away; call not started",
        notStarted: true,
      });
    }
  });
  const registry = new StaticRegistry({ "kitchen.Kitchen": [`127.0.0.1:${gone.port}`] });
  await using k = await startKitchen({ provider: { registry } });
  await using channel = new RpcChannel({ registry, logger: new CaptureLogger() });
  const stub = channel.stub<KitchenStub>(k.service);
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => stub.Sleep({ ms: 1, token: `t${i}` })),
  );
  const failed = results.filter((r) => r.status === "rejected");
  assert.deepEqual(failed, [], `${failed.length} of 20 calls failed`);
  assert.ok(refused > 0, "no call went to the refusing provider");
  assert.equal(k.tokens.length, 20, "each call ran once, on the serving provider");
});
