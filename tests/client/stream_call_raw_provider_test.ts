/**
 * Streams against a provider played by hand over a raw socket: a stream answered "not started"
 * (no handler ran) is opened again when it is a server stream, as a unary call is sent again, and
 * fails UNAVAILABLE when it is bidirectional and sent a request message already (see
 * stream_call_reopen_test.ts for one that had not); a provider's CANCEL ends a stream with its status;
 * a provider sending past the caller's credit has the stream ended.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { Kind } from "../../src/wire/meta.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { isCode } from "../_helpers/is_code.ts";
import { feedService, type FeedStub, type Num } from "../_helpers/feed.ts";
import { FrameSocket, startRawServer } from "../_helpers/raw_tcp.ts";

/** A provider refusing the first stream "not started", then serving one message per stream. */
async function refusingOnce(seen: string[]) {
  const numType = (await feedService()).parent!.lookupType("feed.Num");
  let refused = false;
  return startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    for (;;) {
      const f = await s.next(10_000);
      if (f === null) return;
      if (f.meta.kind !== Kind.REQUEST) continue;
      seen.push(`${f.meta.method}:${f.meta.stream === true}`);
      const callId = f.meta.callId;
      if (!refused) {
        refused = true;
        await s.send({
          kind: Kind.RESPONSE,
          callId,
          status: Code.UNAVAILABLE,
          errorMessage: "going away",
          notStarted: true,
        });
        continue;
      }
      await s.send({ kind: Kind.MESSAGE, callId }, numType.encode({ n: 1 }).finish());
      await s.send({ kind: Kind.RESPONSE, callId });
    }
  });
}

Deno.test("a server stream the provider never started is opened again", async () => {
  const seen: string[] = [];
  await using server = await refusingOnce(seen);
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger: new CaptureLogger(),
  });
  const stub = channel.stub<FeedStub>(await feedService());
  const got: number[] = [];
  for await (const m of stub.Count({ count: 1 })) got.push(m.n);
  assert.deepEqual(got, [1]);
  assert.deepEqual(seen, ["Count:true", "Count:true"]);
});

Deno.test("a bidirectional stream the provider never started after its first message fails UNAVAILABLE", async () => {
  const seen: string[] = [];
  await using server = await refusingOnce(seen);
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger: new CaptureLogger(),
  });
  const stub = channel.stub<FeedStub>(await feedService());
  const one = (async function* (): AsyncGenerator<Num> {
    yield { n: 1 };
  })();
  await assert.rejects(
    (async () => {
      for await (const _ of stub.Echo(one)) { /* refused */ }
    })(),
    (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, Code.UNAVAILABLE);
      assert.match(
        e.message,
        /stream not started by 127\.0\.0\.1:\d+: going away; not opened again: 1 request message/,
      );
      return true;
    },
  );
  assert.deepEqual(seen, ["Echo:true"]);
});

/** A provider that answers every stream with `answer(socket, callId)`. */
function answering(answer: (s: FrameSocket, callId: number) => Promise<void>) {
  return startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    for (;;) {
      const f = await s.next(10_000);
      if (f === null) return;
      if (f.meta.kind === Kind.REQUEST) await answer(s, f.meta.callId);
    }
  });
}

Deno.test("a provider's CANCEL ends the stream with its status, after the messages sent before it", async () => {
  const numType = (await feedService()).parent!.lookupType("feed.Num");
  await using server = await answering(async (s, callId) => {
    await s.send({ kind: Kind.MESSAGE, callId }, numType.encode({ n: 1 }).finish());
    await s.send({ kind: Kind.CANCEL, callId, status: Code.ABORTED });
  });
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger: new CaptureLogger(),
  });
  const stub = channel.stub<FeedStub>(await feedService());
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const m of stub.Count({ count: 5 })) got.push(m.n);
    })(),
    (e: unknown) => e instanceof RpcError && e.code === Code.ABORTED,
  );
  assert.deepEqual(got, [1]);
});

Deno.test("a provider sending past the caller's credit has the stream ended INTERNAL and cancelled", async () => {
  const numType = (await feedService()).parent!.lookupType("feed.Num");
  const payload = numType.encode({ n: 1, loop: "x".repeat(990) }).finish();
  let cancel: { status: number } | undefined;
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    const req = await s.next();
    const callId = req!.meta.callId;
    const w = new FrameWriter();
    for (let i = 0; i < 400; i++) w.writeFrame({ kind: Kind.MESSAGE, callId }, payload);
    await s.write(w.take());
    for (;;) {
      const f = await s.next(10_000);
      if (f === null) return;
      if (f.meta.kind === Kind.CANCEL) cancel = { status: f.meta.status };
    }
  });
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger: new CaptureLogger(),
  });
  const stub = channel.stub<FeedStub>(await feedService());
  const stream = stub.Count({ count: 400 });
  await assert.rejects(
    (async () => {
      for await (const _ of stream) await new Promise((r) => setTimeout(r, 1));
    })(),
    (e: unknown) =>
      e instanceof RpcError && e.code === Code.INTERNAL && /flow-control credit/.test(e.message),
  );
  for (let i = 0; i < 100 && cancel === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(cancel?.status, Code.INTERNAL);
});

Deno.test("a draining connection whose last stream the provider never started is closed by the caller", async () => {
  let closedByCaller: (value: boolean) => void;
  const closed = new Promise<boolean>((resolve) => closedByCaller = resolve);
  await using server = await startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    for (;;) {
      const f = await s.next(10_000);
      if (f === null) return;
      if (f.meta.kind !== Kind.REQUEST) continue;
      const callId = f.meta.callId;
      // Going away, having accepted this stream; then it says the stream never started.
      await s.send({ kind: Kind.GOAWAY, callId: 0, lastCallId: callId, notStarted: true });
      await s.send({
        kind: Kind.RESPONSE,
        callId,
        status: Code.UNAVAILABLE,
        errorMessage: "going away",
        notStarted: true,
      });
      // The caller has nothing left on this connection: it closes it (EOF here; frames it sent
      // before it saw the GOAWAY are skipped).
      for (;;) {
        const g = await s.next(5_000).catch(() => undefined);
        if (g === null || g === undefined) {
          closedByCaller(g === null);
          return;
        }
      }
    }
  });
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger: new CaptureLogger(),
  });
  const stub = channel.stub<FeedStub>(await feedService());
  const one = (async function* (): AsyncGenerator<Num> {
    yield { n: 1 };
  })();
  await assert.rejects(
    (async () => {
      for await (const _ of stub.Echo(one)) { /* refused */ }
    })(),
    isCode(Code.UNAVAILABLE),
  );
  assert.equal(await closed, true, "the connection stayed open");
});

Deno.test("a stream out of credit that the provider never started still closes its request iterable", async () => {
  await using server = await answering(async (s, callId) => {
    // Grants no credit: the caller sends its window's worth, then waits for more.
    await new Promise((r) => setTimeout(r, 300));
    await s.send({
      kind: Kind.RESPONSE,
      callId,
      status: Code.UNAVAILABLE,
      errorMessage: "going away",
      notStarted: true,
    });
  });
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port: server.port },
    logger: new CaptureLogger(),
  });
  const stub = channel.stub<FeedStub>(await feedService());
  let taken = 0;
  let closedIterable!: () => void;
  const closed = new Promise<void>((resolve) => closedIterable = resolve);
  const many = (async function* (): AsyncGenerator<Num> {
    try {
      for (;;) {
        taken++;
        yield { n: taken };
      }
    } finally {
      closedIterable();
    }
  })();
  await assert.rejects(
    (async () => {
      for await (const _ of stub.Echo(many)) { /* refused */ }
    })(),
    isCode(Code.UNAVAILABLE),
  );
  assert.ok(taken > 1000, `only ${taken} requests were taken: the window was not used up`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closedInTime = await Promise.race([
    closed.then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), 2000)),
  ]);
  clearTimeout(timer);
  assert.ok(closedInTime, "the request iterable was never closed: its pump still waits for credit");
});
