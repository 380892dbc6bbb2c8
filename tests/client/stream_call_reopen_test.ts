/**
 * Client and bidirectional streams a provider never started: opened again on another provider
 * while none of their request messages has been sent (a message the request pump takes meanwhile
 * is held for the new attempt, never sent on the refused connection), failed `UNAVAILABLE` with
 * the reason once one was sent. The refusing provider is played by hand over a raw socket; the
 * second one is a real feed provider found through the same registry.
 */
import assert from "node:assert/strict";
import type { Candidate } from "../../src/client/balancer.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { StreamCall, type StreamLink } from "../../src/client/stream_call.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { payloadBytes } from "../../src/wire/frame_writer.ts";
import { Kind, type RpcMeta } from "../../src/wire/meta.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { feedService, type FeedStub, type Num, startFeed } from "../_helpers/feed.ts";
import { FrameSocket, type RawServer, startRawServer } from "../_helpers/raw_tcp.ts";

/** How the refusing provider says a stream never started. */
type Refusal = "response" | "goaway" | "response after a message";

/**
 * A provider refusing every stream as never started; `seen` gets the kind of every frame it
 * reads after the handshake (`REQUEST:Echo`, `MESSAGE`, `HALF_CLOSE`, ...).
 */
function refusing(how: Refusal, seen: string[]): RawServer {
  const kindName = (meta: RpcMeta) =>
    Object.entries(Kind).find(([, k]) => k === meta.kind)?.[0] ?? String(meta.kind);
  return startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    let waiting: number | undefined; // the stream whose first message is awaited
    for (;;) {
      const f = await s.next(10_000);
      if (f === null) return;
      seen.push(f.meta.kind === Kind.REQUEST ? `REQUEST:${f.meta.method}` : kindName(f.meta));
      const callId = f.meta.callId;
      if (f.meta.kind === Kind.REQUEST && how === "goaway") {
        await s.send({ kind: Kind.GOAWAY, callId: 0, lastCallId: callId - 1, notStarted: true });
      } else if (f.meta.kind === Kind.REQUEST && how === "response after a message") {
        waiting = callId;
      } else if (
        (f.meta.kind === Kind.REQUEST && how === "response") ||
        (f.meta.kind === Kind.MESSAGE && callId === waiting)
      ) {
        waiting = undefined;
        await s.send({
          kind: Kind.RESPONSE,
          callId,
          status: Code.UNAVAILABLE,
          errorMessage: "going away",
          notStarted: true,
        });
      }
    }
  });
}

/** A balancer that picks the provider on `port` whenever it is a candidate. */
function preferring(port: number) {
  return {
    pick<C extends Candidate>(candidates: readonly C[]): C {
      return candidates.find((c) => c.key === `127.0.0.1:${port}`) ?? candidates[0]!;
    },
  };
}

/**
 * The refusing provider and a real feed provider of `feed.Feed` in one registry, and a channel
 * that tries the refusing one first. `started` resolves when the feed's Echo or Sum handler runs.
 */
async function twoProviders(how: Refusal) {
  const seen: string[] = [];
  const refuser = refusing(how, seen);
  const registry = new StaticRegistry({ "feed.Feed": [`127.0.0.1:${refuser.port}`] });
  const started = Promise.withResolvers<void>();
  let handlersRun = 0;
  const feed = await startFeed({
    provider: { registry },
    impl: {
      async *Echo(reqs: AsyncIterable<Num>, _ctx: CallContext) {
        handlersRun++;
        started.resolve();
        for await (const r of reqs) yield r;
      },
      async Sum(reqs: AsyncIterable<Num>, _ctx: CallContext) {
        handlersRun++;
        started.resolve();
        let n = 0;
        for await (const r of reqs) n += r.n;
        return { n };
      },
    },
  });
  const channel = new RpcChannel({
    registry,
    logger: new CaptureLogger(),
    loadBalancer: preferring(refuser.port),
    timeoutMs: 10_000, // a stream left waiting fails instead of hanging the test
  });
  const stub = channel.stub<FeedStub>(await feedService());
  return {
    seen,
    started: started.promise,
    handlersRun: () => handlersRun,
    stub,
    /** Closes the channel, then both providers (so `seen` holds every frame sent). */
    close: async () => {
      await channel.close();
      await refuser.close();
      await feed[Symbol.asyncDispose]();
    },
  };
}

/** Requests 1..`count`, the first one only once the second provider's handler runs. */
async function* afterStart(started: Promise<void>, count: number): AsyncGenerator<Num> {
  await started;
  for (let n = 1; n <= count; n++) yield { n };
}

Deno.test("a bidirectional stream answered not started before its first message is served by another provider", async () => {
  const t = await twoProviders("response");
  try {
    const got: number[] = [];
    for await (const m of t.stub.Echo(afterStart(t.started, 5))) got.push(m.n);
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
    assert.equal(t.handlersRun(), 1);
  } finally {
    await t.close();
  }
  assert.deepEqual(t.seen, ["REQUEST:Echo"], "the refusing provider got more than the REQUEST");
});

Deno.test("a client stream behind a GOAWAY before its first message is served by another provider", async () => {
  const t = await twoProviders("goaway");
  try {
    assert.equal((await t.stub.Sum(afterStart(t.started, 100))).n, 5050);
    assert.equal(t.handlersRun(), 1);
  } finally {
    await t.close();
  }
  assert.deepEqual(t.seen, ["REQUEST:Sum"], "the refusing provider got more than the REQUEST");
});

Deno.test("a client stream of no messages refused after its HALF_CLOSE half-closes on the next provider too", async () => {
  const t = await twoProviders("response");
  try {
    const none = (async function* (): AsyncGenerator<Num> {})();
    assert.equal((await t.stub.Sum(none)).n, 0);
  } finally {
    await t.close();
  }
});

Deno.test("a bidirectional stream refused after its first message fails UNAVAILABLE saying why it was not opened again", async () => {
  const t = await twoProviders("response after a message");
  const gate = Promise.withResolvers<void>();
  const oneThenWait = (async function* (): AsyncGenerator<Num> {
    yield { n: 1 };
    await gate.promise;
    yield { n: 2 };
  })();
  try {
    await assert.rejects(
      (async () => {
        for await (const _ of t.stub.Echo(oneThenWait)) { /* refused */ }
      })(),
      (e: unknown) => {
        assert.ok(e instanceof RpcError);
        assert.equal(e.code, Code.UNAVAILABLE);
        assert.match(
          e.message,
          /^stream not started by 127\.0\.0\.1:\d+: going away; not opened again: 1 request message was already sent to it/,
        );
        return true;
      },
    );
    assert.equal(t.handlersRun(), 0, "the stream was opened again");
  } finally {
    gate.resolve(); // the request pump, waiting for the next message, ends and closes the iterable
    await t.close();
  }
  assert.deepEqual(t.seen, ["REQUEST:Echo", "MESSAGE"]);
});

/** A link recording what the stream sends on it, as `name:KIND:callId[:n]`. */
async function recordingLink(name: string, frames: string[]): Promise<StreamLink> {
  const numType = (await feedService()).parent!.lookupType("feed.Num");
  const kindName = (kind: number) => Object.entries(Kind).find(([, k]) => k === kind)![0];
  return {
    peerMaxMessageBytes: 1 << 20,
    send(fields) {
      frames.push(`${name}:${kindName(fields.kind)}:${fields.callId}`);
      return true;
    },
    sendMessage(fields, payload) {
      const n = (numType.decode(payloadBytes(payload)) as unknown as Num).n;
      frames.push(`${name}:${kindName(fields.kind)}:${fields.callId}:${n}`);
      return true;
    },
    flush() {},
    release() {},
  };
}

/** Lets every pending promise reaction run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a request message taken while the stream is between attempts goes out on the next attempt, not the refused one", async () => {
  const desc = describeMethod((await feedService()).methods["Echo"]!);
  const frames: string[] = [];
  const gate = Promise.withResolvers<void>();
  const call = new StreamCall({ desc, deadline: 0, requests: afterStart(gate.promise, 2) });
  call.attach(await recordingLink("a", frames), 1); // the pump now awaits the first message
  await turn();
  call.detach(); // the provider never started it
  gate.resolve(); // the first message arrives while no attempt is open
  await turn();
  assert.deepEqual(frames, [], "a message was sent on the refused link");
  assert.equal(call.messagesSent, 0);
  call.attach(await recordingLink("b", frames), 3);
  await call.settled;
  assert.deepEqual(frames, ["b:MESSAGE:3:1", "b:MESSAGE:3:2", "b:HALF_CLOSE:3"]);
  call.cancel();
});

Deno.test("a request message held between attempts ends with the call, and the request iterable is closed", async () => {
  const desc = describeMethod((await feedService()).methods["Echo"]!);
  const frames: string[] = [];
  const gate = Promise.withResolvers<void>();
  let closed = false;
  const requests = (async function* (): AsyncGenerator<Num> {
    try {
      yield* afterStart(gate.promise, 2);
    } finally {
      closed = true;
    }
  })();
  const call = new StreamCall({ desc, deadline: 0, requests });
  call.attach(await recordingLink("a", frames), 1);
  await turn();
  call.detach();
  gate.resolve();
  await turn(); // the pump holds { n: 1 }, waiting for the next attempt
  call.fail(new RpcError(Code.UNAVAILABLE, "no provider available"), false);
  await call.settled;
  assert.ok(closed, "the request iterable was not closed");
  assert.deepEqual(frames, []);
});

Deno.test("a request iterable that ended before the refusal half-closes the next attempt", async () => {
  const desc = describeMethod((await feedService()).methods["Sum"]!);
  const frames: string[] = [];
  const none = (async function* (): AsyncGenerator<Num> {})();
  const call = new StreamCall({ desc, deadline: 0, requests: none });
  call.attach(await recordingLink("a", frames), 1);
  await call.settled;
  call.detach();
  call.attach(await recordingLink("b", frames), 2);
  assert.deepEqual(frames, ["a:HALF_CLOSE:1", "b:HALF_CLOSE:2"]);
  call.cancel();
});
