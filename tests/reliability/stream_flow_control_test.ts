import assert from "node:assert/strict";
import type { CallContext } from "../../src/server/call_context.ts";
import { MESSAGE_COST_BYTES, STREAM_WINDOW_BYTES } from "../../src/util/credit.ts";
import { startFeed } from "../_helpers/feed.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

Deno.test("100,000 messages to a slow consumer: memory stays bounded by the window, unary calls keep their latency", async () => {
  const SIZE = 1000;
  const COUNT = 100_000;
  let produced = 0;
  await using f = await startFeed({
    impl: {
      async *Blobs(_req: unknown, _ctx: CallContext) {
        const data = new Uint8Array(SIZE).fill(1);
        for (let i = 1; i <= COUNT; i++) {
          produced = i;
          yield { seq: i, data };
        }
      },
    },
  });
  // Baseline unary latency on the same connection, before the stream.
  await f.stub.Get({ n: 0 });
  const base: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await f.stub.Get({ n: i });
    base.push(performance.now() - t);
  }
  const rss0 = Deno.memoryUsage().rss;
  // The most messages the provider may have produced ahead of the consumer: one window of
  // credit (each message costs its payload plus MESSAGE_COST_BYTES; one more may overshoot), the
  // one the generator holds while waiting for credit, and one being handed over.
  const perMessage = SIZE + 6 + MESSAGE_COST_BYTES; // payload: seq and data fields
  const maxAhead = Math.ceil(STREAM_WINDOW_BYTES / perMessage) + 3;
  let consumed = 0;
  let maxLead = 0;
  let maxUnsent = 0;
  let maxRss = rss0;
  const during: number[] = [];
  let slowPhase = true;
  // Unary calls on the same connection while the consumer crawls.
  const unary = (async () => {
    while (slowPhase) {
      const t = performance.now();
      await f.stub.Get({ n: 1 });
      during.push(performance.now() - t);
      await sleep(10);
    }
  })();
  const start = performance.now();
  for await (const m of f.stub.Blobs({})) {
    consumed++;
    assert.equal(m.seq, consumed);
    maxLead = Math.max(maxLead, produced - consumed);
    if (slowPhase) {
      maxUnsent = Math.max(maxUnsent, f.provider.unsentBytes);
      if (consumed % 50 === 0) maxRss = Math.max(maxRss, Deno.memoryUsage().rss);
      if (performance.now() - start < 1000) await sleep(1); // one message per ms
      else slowPhase = false;
    } else if (consumed % 5000 === 0) {
      maxRss = Math.max(maxRss, Deno.memoryUsage().rss);
    }
  }
  slowPhase = false;
  await unary;
  assert.equal(consumed, COUNT);
  const growthMiB = (maxRss - rss0) / 2 ** 20;
  console.log(
    `window ${STREAM_WINDOW_BYTES} B: provider ahead by at most ${maxLead} messages ` +
      `(bound ${maxAhead}), provider unsent bytes at most ${maxUnsent}, RSS growth ` +
      `${growthMiB.toFixed(1)} MiB; unary median ${median(base).toFixed(2)} ms before, ` +
      `${median(during).toFixed(2)} ms during (${during.length} calls)`,
  );
  assert.ok(maxLead <= maxAhead, `the provider ran ${maxLead} messages ahead (bound ${maxAhead})`);
  assert.ok(maxUnsent <= STREAM_WINDOW_BYTES + 64 * 1024, `${maxUnsent} bytes queued to send`);
  // Without flow control the 100 MB stream would sit in the caller's memory.
  assert.ok(growthMiB < 48, `RSS grew ${growthMiB.toFixed(1)} MiB`);
  assert.ok(during.length >= 10, "unary calls completed meanwhile");
  assert.ok(
    median(during) < Math.max(10 * median(base), median(base) + 25),
    `unary median ${median(during)} ms during the stream vs ${median(base)} ms before`,
  );
});

Deno.test("a stream whose consumer stalls blocks neither other streams nor unary calls on the connection", async () => {
  await using f = await startFeed();
  const stalled = f.stub.Blobs({ count: 10_000, size: 4096 });
  const it = stalled[Symbol.asyncIterator]();
  await it.next(); // then reads no more: its window fills up
  await sleep(50);
  let n = 0;
  for await (const _ of f.stub.Blobs({ count: 2000, size: 4096 })) n++;
  assert.equal(n, 2000);
  assert.equal((await f.stub.Get({ n: 3 })).n, 3);
  stalled.cancel();
});
