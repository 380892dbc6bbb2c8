/**
 * A provider that answers a stream "not started" (it never ran a handler): a server stream is
 * opened again, as a unary call is sent again; a bidirectional stream fails UNAVAILABLE. The
 * provider here is a raw socket playing the protocol by hand.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { Kind } from "../../src/wire/meta.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
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

Deno.test("a bidirectional stream the provider never started fails UNAVAILABLE: its requests may be gone", async () => {
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
      assert.match(e.message, /stream not started by 127\.0\.0\.1:\d+: going away/);
      return true;
    },
  );
  assert.deepEqual(seen, ["Echo:true"]);
});
