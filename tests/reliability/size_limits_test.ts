/**
 * Size limits fail one call, never the connection it shares with others: each side learns the
 * other's `maxMessageBytes` in the handshake, a request over the provider's limit is refused
 * before it is sent, a response over the caller's limit is refused by the provider (or skipped
 * by the caller's decoder), and `RESOURCE_EXHAUSTED` is never retried.
 */
import assert from "node:assert/strict";
import { RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import { Kind } from "../../src/wire/meta.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { FrameSocket, startRawServer } from "../_helpers/raw_tcp.ts";

const LIMIT = 2048;
const UNRELATED = 10;

function isExhausted(pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof RpcError, `expected an RpcError, got ${e}`);
    assert.equal(e.codeName, "RESOURCE_EXHAUSTED", e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

/** Starts `UNRELATED` calls that are in flight on the shared connection for a while. */
function unrelatedCalls(stub: KitchenStub) {
  return Promise.allSettled(
    Array.from({ length: UNRELATED }, (_, i) => stub.Sleep({ ms: 100, token: `u${i}` })),
  );
}

Deno.test("the handshake PING carries the caller's maxMessageBytes and the PONG the provider's", async () => {
  await using k = await startKitchen({ provider: { maxMessageBytes: 12345 } });
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send({ kind: Kind.PING, callId: 0, maxMessageBytes: 777 });
  const pong = await raw.next();
  assert.equal(pong?.meta.kind, Kind.PONG);
  assert.equal(pong?.meta.maxMessageBytes, 12345);
});

Deno.test("a request over the provider's limit fails alone with RESOURCE_EXHAUSTED before it is sent", async () => {
  await using k = await startKitchen({ provider: { maxMessageBytes: LIMIT } });
  assert.equal((await k.stub.Echo({ text: "warm" })).text, "warm");
  const others = unrelatedCalls(k.stub);
  await assert.rejects(
    k.stub.Echo({ text: "x".repeat(LIMIT * 2) }),
    isExhausted(/exceeds the provider's maxMessageBytes 2048/),
  );
  const failed = (await others).filter((r) => r.status === "rejected");
  assert.deepEqual(failed, [], `${failed.length} of ${UNRELATED} unrelated calls failed`);
  // Not a byte of it reached the provider, whose connection is the one it had.
  assert.equal(k.logger.find("warn", "request too large").length, 0);
  assert.equal(k.logger.find("warn", "closing connection").length, 0);
  assert.equal(k.provider.connectionCount, 1);
  assert.equal((await k.stub.Echo({ text: "after" })).text, "after");
});

Deno.test("a response over the caller's limit fails alone with RESOURCE_EXHAUSTED (the provider refuses to send it)", async () => {
  await using k = await startKitchen({ channel: { maxMessageBytes: LIMIT } });
  assert.equal((await k.stub.Echo({ text: "warm" })).text, "warm");
  const others = unrelatedCalls(k.stub);
  // The request fits (the provider's limit is 4 MiB); the echoed response is over the caller's.
  await assert.rejects(
    k.stub.Echo({ text: "y".repeat(LIMIT + 100) }),
    isExhausted(/response of \d+ bytes exceeds the caller's maxMessageBytes 2048/),
  );
  const failed = (await others).filter((r) => r.status === "rejected");
  assert.deepEqual(failed, [], `${failed.length} of ${UNRELATED} unrelated calls failed`);
  assert.equal(k.logger.find("warn", "response too large for the caller").length, 1);
  assert.equal(k.provider.connectionCount, 1);
  assert.equal((await k.stub.Echo({ text: "after" })).text, "after");
});

Deno.test("a response over the caller's limit from a provider that did not learn it is skipped, failing that call alone", async () => {
  const echo = describeMethod((await kitchenService()).methods["Echo"]!);
  // An older provider: its PONG does not ask for the caller's limit, and it answers the first
  // call with 8 KiB, then the second with a small response, on the same connection.
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    const first = await s.next();
    const second = await s.next();
    const big = echo.response.encode({ text: "z".repeat(8192) });
    await s.send({ kind: Kind.RESPONSE, callId: first!.meta.callId }, big);
    const small = echo.response.encode({ text: "fine" });
    await s.send({ kind: Kind.RESPONSE, callId: second!.meta.callId }, small);
    await s.next(); // until the caller closes
  });
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    maxMessageBytes: LIMIT,
    logger,
  });
  const stub = channel.stub<KitchenStub>(await kitchenService());
  const first = stub.Echo({ text: "1" });
  const second = stub.Echo({ text: "2" });
  await assert.rejects(first, isExhausted(/response of \d+ bytes exceeds maxMessageBytes 2048/));
  assert.equal((await second).text, "fine", "the connection survived the oversize response");
  assert.equal(logger.find("warn", "closing connection").length, 0);
  assert.equal(server.accepted, 1);
});

Deno.test("RESOURCE_EXHAUSTED is never retried: an oversize request with retries is sent to no provider", async () => {
  const registry = new StaticRegistry();
  await using a = await startKitchen({ provider: { registry, maxMessageBytes: LIMIT } });
  await using b = await startKitchen({ provider: { registry, maxMessageBytes: LIMIT } });
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({ registry, logger });
  const stub = channel.stub<KitchenStub>(a.service);
  // Connect to both providers first.
  for (let i = 0; i < 4; i++) await stub.Echo({ text: `w${i}` });
  const before = [a.provider.connectionCount, b.provider.connectionCount];
  await assert.rejects(
    stub.Echo({ text: "x".repeat(LIMIT * 4) }, { retries: 2 }),
    isExhausted(/exceeds the provider's maxMessageBytes/),
  );
  assert.deepEqual([a.provider.connectionCount, b.provider.connectionCount], before);
  for (const k of [a, b]) {
    assert.equal(k.logger.find("warn", "request too large").length, 0);
    assert.equal(k.logger.find("warn", "closing connection").length, 0);
  }
  assert.equal(logger.find("debug", "retrying call").length, 0);
});
