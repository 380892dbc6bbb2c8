import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { feedImpl, feedService, type FeedStub, type Num } from "../_helpers/feed.ts";
import { Events } from "../_helpers/kitchen.ts";
import { TcpProxy } from "../_helpers/tcp_proxy.ts";

async function* forever(): AsyncGenerator<Num> {
  for (let i = 1;; i++) {
    yield { n: i };
    await new Promise((r) => setTimeout(r, 2));
  }
}

Deno.test("a stream broken after messages went out fails UNAVAILABLE and is not sent again", async () => {
  let started = 0;
  const provider = new RpcProvider({ logger: new CaptureLogger() });
  const service = await feedService();
  provider.notifyService(service, {
    ...feedImpl(new Events()),
    async *Echo(reqs: AsyncIterable<Num>) {
      started++;
      for await (const r of reqs) yield r;
    },
  });
  await provider.start();
  const proxy = new TcpProxy({ hostname: "127.0.0.1", port: provider.address.port });
  const channel = new RpcChannel({
    address: { host: "127.0.0.1", port: proxy.port },
    logger: new CaptureLogger(),
  });
  try {
    const stub = channel.stub<FeedStub>(service);
    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const m of stub.Echo(forever())) {
          seen.push(m.n);
          if (seen.length === 5) {
            proxy.cut();
            proxy.heal(); // closes the connection under the stream
          }
        }
      })(),
      (e: unknown) => {
        assert.ok(e instanceof RpcError, String(e));
        assert.equal(e.code, Code.UNAVAILABLE, e.message);
        return true;
      },
    );
    assert.ok(seen.length >= 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(started, 1, "the handler ran once: the stream was not sent again");
    // The channel itself recovers for new calls.
    assert.equal((await stub.Get({ n: 4 })).n, 4);
  } finally {
    await channel.close();
    await proxy.close();
    await provider.close({ graceMs: 0 });
  }
});
