import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { LegacyRequestEncoder } from "../../src/legacy/legacy_codec.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { feedImpl, feedService, type FeedStub, type Num, startFeed } from "../_helpers/feed.ts";
import { Events } from "../_helpers/kitchen.ts";
import { FrameSocket } from "../_helpers/raw_tcp.ts";
import { encodeRoute, Kind } from "../../src/wire/meta.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { isCode } from "../_helpers/is_code.ts";

Deno.test("close({ graceMs }) ends open streams with UNAVAILABLE after the grace period", async () => {
  const f = await startFeed();
  try {
    const stream = f.stub.Count({ count: 1_000_000, delayMs: 5, token: "grace" });
    const it = stream[Symbol.asyncIterator]();
    assert.equal((await it.next()).value?.n, 1);
    const closedAt = performance.now();
    const closing = f.provider.close({ graceMs: 300 });
    let n = 1;
    await assert.rejects(
      (async () => {
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          n++;
        }
      })(),
      isCode(Code.UNAVAILABLE, /provider shut down/),
    );
    const ms = performance.now() - closedAt;
    assert.ok(ms >= 250, `the stream ended ${ms} ms after close(), within the grace`);
    assert.ok(n > 1, "messages kept coming during the grace period");
    const aborted = await f.events.wait<{ reason: RpcError }>("aborted:grace");
    assert.equal(aborted.reason.code, Code.UNAVAILABLE);
    await f.events.wait("finally:grace");
    await closing;
  } finally {
    await f.channel.close();
    await f.provider.close();
  }
});

Deno.test("a stream that ends within the grace period completes normally", async () => {
  const f = await startFeed();
  try {
    const stream = f.stub.Count({ count: 20, delayMs: 5 });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const closing = f.provider.close({ graceMs: 5000 });
    let n = 1;
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      n++;
    }
    assert.equal(n, 20);
    await closing;
  } finally {
    await f.channel.close();
  }
});

Deno.test("a stream's deadline aborts a handler waiting on ctx.signal with DEADLINE_EXCEEDED", async () => {
  let reason: unknown;
  await using f = await startFeed({
    impl: {
      async *Count(_req: unknown, ctx: CallContext) {
        yield { n: 1 };
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
        reason = ctx.signal.reason;
      },
    },
  });
  const stream = f.stub.Count({}, { timeoutMs: 100 });
  await assert.rejects(
    (async () => {
      for await (const _ of stream) { /* one message */ }
    })(),
    isCode(Code.DEADLINE_EXCEEDED),
  );
  for (let i = 0; i < 100 && reason === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(reason instanceof RpcError);
  assert.equal(reason.code, Code.DEADLINE_EXCEEDED);
});

Deno.test("a streaming handler that returns no iterable fails the call INTERNAL with a log line", async () => {
  await using f = await startFeed({ impl: { Count: () => 42 } });
  await assert.rejects(
    (async () => {
      for await (const _ of f.stub.Count({})) { /* none */ }
    })(),
    isCode(Code.INTERNAL, /must return an AsyncIterable/),
  );
  assert.equal(f.logger.find("error", "handler failed").length, 1);
});

Deno.test("a request message over the provider's maxMessageBytes fails that stream alone", async () => {
  await using f = await startFeed({ provider: { maxMessageBytes: 1024 } });
  async function* big() {
    yield { n: 1, loop: "x".repeat(4096) };
  }
  await assert.rejects(
    f.stub.Sum(big()),
    isCode(Code.RESOURCE_EXHAUSTED, /exceeds the provider's maxMessageBytes 1024/),
  );
  async function* small() {
    yield { n: 2 };
    yield { n: 3 };
  }
  assert.equal((await f.stub.Sum(small())).n, 5);
});

Deno.test("maxStreamsPerConnection must be an integer >= 1", () => {
  assert.throws(() => new RpcProvider({ maxStreamsPerConnection: 0 }), RangeError);
});

Deno.test("over the C++ protocol a streaming method is UNIMPLEMENTED saying it streams; unary methods still work", async () => {
  const logger = new CaptureLogger();
  const provider = new RpcProvider({ legacy: true, logger });
  provider.notifyService(await feedService(), feedImpl(new Events()));
  await provider.start();
  try {
    await using channel = new RpcChannel({
      address: provider.address,
      protocol: "mprpc-legacy",
      logger,
    });
    const stub = channel.stub<FeedStub>(await feedService());
    assert.equal((await stub.Get({ n: 5 })).n, 5);
    await assert.rejects(
      (async () => {
        for await (const _ of stub.Count({ count: 1 })) { /* none */ }
      })(),
      isCode(Code.UNIMPLEMENTED, /feed\.Feed\.Count streams \(server_stream\)/),
    );
    const one = (async function* (): AsyncGenerator<Num> {
      yield { n: 1 };
    })();
    await assert.rejects(stub.Sum(one), isCode(Code.UNIMPLEMENTED, /Sum streams/));
    // A C++ caller naming the streaming method: the provider refuses it, saying why.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: provider.address.port });
    await conn.write(new LegacyRequestEncoder("Feed", "Count").encode(new Uint8Array([8, 1])));
    const buf = new Uint8Array(16);
    assert.equal(await conn.read(buf), null, "closed without a reply");
    conn.close();
    const line = await logger.waitFor("warn", "legacy call refused");
    assert.match(String(line.fields.reason), /feed\.Feed\.Count streams/);
    assert.equal((await stub.Get({ n: 6 })).n, 6);
  } finally {
    await provider.close({ graceMs: 0 });
  }
});

Deno.test("a caller sending past its credit has that stream ended RESOURCE_EXHAUSTED; its connection goes on", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => release = r);
  await using f = await startFeed({
    // Reads nothing: no credit is granted back.
    impl: { Sum: () => held.then(() => ({ n: 0 })) },
  });
  const numType = (await feedService()).parent!.lookupType("feed.Num");
  const payload = numType.encode({ n: 1, loop: "x".repeat(990) }).finish();
  await using s = await FrameSocket.connect(f.provider.address.port);
  await s.send({ kind: Kind.PING, callId: 0, maxMessageBytes: 1 << 20 });
  assert.equal((await s.next())?.meta.kind, Kind.PONG);
  const route = encodeRoute("feed.Feed", "Sum");
  await s.send({ kind: Kind.REQUEST, callId: 1, route, stream: true });
  const w = new FrameWriter();
  // 400 messages of ~1 KiB: well past the 256 KiB window.
  for (let i = 0; i < 400; i++) w.writeFrame({ kind: Kind.MESSAGE, callId: 1 }, payload);
  await s.write(w.take());
  const end = await s.next();
  assert.equal(end?.meta.kind, Kind.RESPONSE);
  assert.equal(end?.meta.callId, 1);
  assert.equal(end?.meta.status, Code.RESOURCE_EXHAUSTED);
  assert.match(end!.meta.errorMessage, /past its flow-control credit/);
  await s.send({ kind: Kind.PING, callId: 7 });
  assert.equal((await s.next())?.meta.kind, Kind.PONG, "the connection is still served");
  release();
});

Deno.test("a REQUEST flagged as a stream for a unary method, or unflagged for a streaming one, is INVALID_ARGUMENT", async () => {
  await using f = await startFeed();
  await using s = await FrameSocket.connect(f.provider.address.port);
  await s.send({ kind: Kind.PING, callId: 0 });
  await s.next();
  await s.send({
    kind: Kind.REQUEST,
    callId: 1,
    route: encodeRoute("feed.Feed", "Get"),
    stream: true,
  });
  const a = await s.next();
  assert.equal(a?.meta.status, Code.INVALID_ARGUMENT);
  assert.match(a!.meta.errorMessage, /feed\.Feed\.Get is unary, but was called as a stream/);
  await s.send({ kind: Kind.REQUEST, callId: 2, route: encodeRoute("feed.Feed", "Count") });
  const b = await s.next();
  assert.equal(b?.meta.status, Code.INVALID_ARGUMENT);
  assert.match(b!.meta.errorMessage, /Count streams \(server_stream\), but was called as a unary/);
});
