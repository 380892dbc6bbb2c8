/**
 * A provider closing an idle connection (`idleTimeoutMs`) never fails a call: it sends GOAWAY
 * with the last call id it accepted and closes gracefully, and the caller sends every call after
 * that id again, on a new connection.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcError } from "../../src/errors.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import { encodeRoute, Kind } from "../../src/wire/meta.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { FrameSocket, startRawServer } from "../_helpers/raw_tcp.ts";

Deno.test("an idle close sends GOAWAY with the last call id, half-closes, and waits for the caller to close", async () => {
  await using k = await startKitchen({ provider: { idleTimeoutMs: 150 } });
  const echo = describeMethod(k.service.methods["Echo"]!);
  const route = encodeRoute("kitchen.Kitchen", "Echo");
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send({ kind: Kind.PING, callId: 0 });
  assert.equal((await raw.next())?.meta.kind, Kind.PONG);
  await raw.send({ kind: Kind.REQUEST, callId: 5, route }, echo.request.encode({ text: "a" }));
  assert.equal((await raw.next())?.meta.callId, 5);
  const goaway = await raw.next();
  assert.equal(goaway?.meta.kind, Kind.GOAWAY);
  assert.equal(goaway?.meta.status, 0);
  assert.equal(goaway?.meta.lastCallId, 5);
  assert.equal(goaway?.meta.notStarted, true);
  // Then FIN: the provider writes nothing more, but still reads, so our late bytes cause no RST.
  assert.equal(await raw.next(), null);
  await raw.send({ kind: Kind.REQUEST, callId: 6, route }, echo.request.encode({ text: "late" }));
  assert.equal(k.provider.connectionCount >= 1, true, "the provider waits for the caller");
  raw.close();
  for (let i = 0; i < 100 && k.provider.connectionCount > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(k.provider.connectionCount, 0);
  assert.deepEqual(k.tokens, ["a"], "the late call never ran");
  assert.equal(k.logger.find("info", "closing idle connection").length, 1);
});

Deno.test("a call sent as an idle close's GOAWAY crosses it is sent again on a new connection", async () => {
  const echo = describeMethod((await kitchenService()).methods["Echo"]!);
  const served: string[] = [];
  const answer = async (s: FrameSocket, conn: number) => {
    const req = await s.next();
    const text = echo.request.decode(req!.payload).text as string;
    served.push(`${conn}:${text}`);
    await s.send(
      { kind: Kind.RESPONSE, callId: req!.meta.callId },
      echo.response.encode({ text: `${text}@${conn}` }),
    );
    return req!.meta.callId;
  };
  // Connection 1 answers one call, then (a second request already on the wire) says GOAWAY with
  // the first call as the last one accepted, and half-closes without reading the second.
  await using server = startRawServer(async (conn) => {
    const n = server.accepted;
    const s = new FrameSocket(conn);
    await s.handshake();
    if (n === 1) {
      const first = await answer(s, n);
      const second = await s.next();
      assert.ok(second !== null);
      await s.send({ kind: Kind.GOAWAY, callId: 0, lastCallId: first, notStarted: true });
      await conn.closeWrite();
    } else {
      await answer(s, n);
    }
    while (await s.next(10_000) !== null) {
      // read until the caller closes
    }
  });
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger,
    keepaliveMs: 0,
  });
  const stub = channel.stub<KitchenStub>(await kitchenService());
  assert.equal((await stub.Echo({ text: "one" })).text, "one@1");
  assert.equal((await stub.Echo({ text: "two" })).text, "two@2");
  assert.deepEqual(served, ["1:one", "2:two"], "the second call ran once, on connection 2");
  assert.equal(server.accepted, 2);
});

Deno.test("calls racing idle closes all succeed, each run once", async () => {
  const IDLE_MS = 20;
  const CALLS = 100;
  await using k = await startKitchen({
    provider: { idleTimeoutMs: IDLE_MS },
    channel: { keepaliveMs: 0, timeoutMs: 5000 },
  });
  const failures: string[] = [];
  for (let i = 0; i < CALLS; i++) {
    // Send around the moment the provider's sweep (every 10 ms) finds the connection idle.
    await new Promise((r) => setTimeout(r, IDLE_MS - 5 + Math.random() * 20));
    try {
      const text = `c${i}`;
      assert.equal((await k.stub.Echo({ text })).text, text);
    } catch (e) {
      failures.push(e instanceof RpcError ? `${e.codeName}: ${e.message}` : String(e));
    }
  }
  const closes = k.logger.find("info", "closing idle connection").length;
  console.log(`${CALLS} calls raced ${closes} idle closes: ${failures.length} failed`);
  assert.deepEqual(failures, []);
  assert.ok(closes > 10, `only ${closes} idle closes: the race was not exercised`);
  const runs = new Map<string, number>();
  for (const t of k.tokens) runs.set(t, (runs.get(t) ?? 0) + 1);
  assert.deepEqual([...runs.values()].filter((n) => n !== 1), [], "a call ran twice");
  assert.equal(runs.size, CALLS);
});
