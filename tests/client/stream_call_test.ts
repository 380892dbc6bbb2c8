import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { type Num, startFeed } from "../_helpers/feed.ts";
import { isCode } from "../_helpers/is_code.ts";

async function* numbers(count: number): AsyncGenerator<Num> {
  for (let i = 1; i <= count; i++) yield { n: i };
}

Deno.test("a server stream delivers every message in order, then ends", async () => {
  await using f = await startFeed();
  const seen: number[] = [];
  for await (const m of f.stub.Count({ count: 5 })) seen.push(m.n);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

Deno.test("a client stream of 10,000 numbers answers their sum", async () => {
  await using f = await startFeed();
  const res = await f.stub.Sum(numbers(10_000));
  assert.equal(res.n, (10_000 * 10_001) / 2);
});

Deno.test("a bidirectional echo of 1,000 messages keeps their order", async () => {
  await using f = await startFeed();
  const seen: number[] = [];
  for await (const m of f.stub.Echo(numbers(1000))) seen.push(m.n);
  assert.deepEqual(seen, Array.from({ length: 1000 }, (_, i) => i + 1));
});

Deno.test("either side of a bidirectional stream may finish first", async () => {
  await using f = await startFeed({
    impl: {
      // Answers the first two requests, then ends while the caller keeps sending.
      async *Echo(reqs: AsyncIterable<Num>) {
        let i = 0;
        for await (const r of reqs) {
          yield r;
          if (++i === 2) return;
        }
      },
    },
  });
  let requestsClosed!: () => void;
  const closed = new Promise<void>((resolve) => requestsClosed = resolve);
  async function* forever() {
    try {
      for (let i = 1;; i++) {
        yield { n: i };
        await new Promise((r) => setTimeout(r, 1));
      }
    } finally {
      requestsClosed();
    }
  }
  const seen: number[] = [];
  for await (const m of f.stub.Echo(forever())) seen.push(m.n);
  assert.deepEqual(seen, [1, 2]);
  // The call closes the request iterable once the stream has ended (after the pending pause).
  await closed;
});

Deno.test("headers arrive with the first message and trailers with the end", async () => {
  await using f = await startFeed({
    impl: {
      async *Count(req: { count: number }, ctx: CallContext) {
        ctx.responseHeaders["served-by"] = "node-1";
        for (let i = 1; i <= req.count; i++) yield { n: i };
        ctx.responseMetadata["total"] = String(req.count);
      },
    },
  });
  const stream = f.stub.Count({ count: 3 });
  let n = 0;
  for await (const _ of stream) n++;
  assert.equal(n, 3);
  assert.deepEqual(await stream.headers, { "served-by": "node-1" });
  assert.deepEqual(await stream.trailers, { total: "3" });
});

Deno.test("a handler throwing after yielding: the caller gets the messages, then the RpcError", async () => {
  await using f = await startFeed({
    impl: {
      async *Count(_req: unknown, ctx: CallContext) {
        yield { n: 1 };
        yield { n: 2 };
        ctx.responseMetadata["why"] = "tired";
        throw new RpcError(Code.FAILED_PRECONDITION, "no more numbers");
      },
    },
  });
  const stream = f.stub.Count({ count: 9 });
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const m of stream) seen.push(m.n);
    })(),
    isCode(Code.FAILED_PRECONDITION, /no more numbers/),
  );
  assert.deepEqual(seen, [1, 2]);
  await assert.rejects(stream.trailers, (e: unknown) => {
    assert.ok(e instanceof RpcError);
    assert.deepEqual(e.metadata, { why: "tired" });
    return true;
  });
});

Deno.test("a caller whose request iterable throws: the provider sees CANCELLED", async () => {
  let reason: unknown;
  let resolveSeen!: () => void;
  const seen = new Promise<void>((r) => resolveSeen = r);
  await using f = await startFeed({
    impl: {
      async Sum(reqs: AsyncIterable<Num>, ctx: CallContext) {
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          resolveSeen();
        });
        let n = 0;
        for await (const r of reqs) n += r.n;
        return { n };
      },
    },
  });
  async function* broken() {
    yield { n: 1 };
    await new Promise((r) => setTimeout(r, 20));
    throw new Error("the source broke");
  }
  await assert.rejects(f.stub.Sum(broken()), isCode(Code.CANCELLED, /the source broke/));
  await seen;
  assert.ok(reason instanceof RpcError);
  assert.equal(reason.code, Code.CANCELLED);
});

Deno.test("breaking out of for await after 10 messages aborts ctx.signal and runs the generator's finally", async () => {
  await using f = await startFeed();
  const stream = f.stub.Count({ count: 1_000_000, token: "brk" });
  let n = 0;
  let brokeAt = 0;
  // A plain timer set at the break: how late this event loop runs at the moment (other tests and
  // processes share the cores), which the bound allows for.
  let reference: Promise<number> | undefined;
  for await (const _ of stream) {
    if (++n === 10) {
      brokeAt = performance.now();
      reference = new Promise((resolve) => setTimeout(() => resolve(performance.now()), 0));
      break;
    }
  }
  const aborted = await f.events.wait<{ reason: unknown; at: number }>("aborted:brk");
  const finallyAt = await f.events.wait<number>("finally:brk");
  assert.ok(aborted.reason instanceof RpcError);
  assert.equal(aborted.reason.code, Code.CANCELLED);
  const ms = aborted.at - brokeAt;
  const lateness = (await reference!) - brokeAt;
  console.log(`ctx.signal aborted ${ms.toFixed(1)} ms after the break`);
  assert.ok(
    ms <= 50 + lateness,
    `signal aborted ${ms} ms after the break (a timer set at the break ran ${lateness} ms later)`,
  );
  assert.ok(finallyAt >= aborted.at);
  await assert.rejects(stream.trailers, isCode(Code.CANCELLED));
});

Deno.test("a deadline mid-stream ends it with DEADLINE_EXCEEDED on both sides", async () => {
  await using f = await startFeed();
  const stream = f.stub.Count({ count: 1000, delayMs: 20, token: "dl" }, { timeoutMs: 300 });
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const _ of stream) n++;
    })(),
    isCode(Code.DEADLINE_EXCEEDED),
  );
  assert.ok(n > 0 && n < 1000, `${n} messages before the deadline`);
  const aborted = await f.events.wait<{ reason: unknown }>("aborted:dl");
  assert.ok(aborted.reason instanceof RpcError);
  assert.equal(aborted.reason.code, Code.DEADLINE_EXCEEDED);
  await f.events.wait("finally:dl");
});

Deno.test("cancel() and the call's signal end a stream with CANCELLED on both sides", async () => {
  await using f = await startFeed();
  const ac = new AbortController();
  const stream = f.stub.Count({ count: 1000, delayMs: 5, token: "sig" }, { signal: ac.signal });
  const it = stream[Symbol.asyncIterator]();
  assert.equal((await it.next()).value?.n, 1);
  ac.abort();
  await assert.rejects(it.next(), isCode(Code.CANCELLED));
  const aborted = await f.events.wait<{ reason: RpcError }>("aborted:sig");
  assert.equal(aborted.reason.code, Code.CANCELLED);
  const other = f.stub.Count({ count: 1000, delayMs: 5, token: "cancel" });
  const it2 = other[Symbol.asyncIterator]();
  await it2.next();
  other.cancel();
  await assert.rejects(it2.next(), isCode(Code.CANCELLED));
  await f.events.wait("finally:cancel");
});

Deno.test("1,000 concurrent streams on one connection all complete", async () => {
  await using f = await startFeed();
  const sums = await Promise.all(
    Array.from({ length: 1000 }, async (_, i) => {
      let sum = 0;
      for await (const m of f.stub.Count({ count: 10, delayMs: i % 3 })) sum += m.n;
      return sum;
    }),
  );
  assert.ok(sums.every((s) => s === 55));
  assert.equal(f.provider.connectionCount, 1);
});

Deno.test("a stream over the provider's cap per connection fails RESOURCE_EXHAUSTED, others go on", async () => {
  await using f = await startFeed({ provider: { maxStreamsPerConnection: 2 } });
  const a = f.stub.Count({ count: 100, delayMs: 10 });
  const b = f.stub.Count({ count: 100, delayMs: 10 });
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  await ia.next();
  await ib.next();
  const c = f.stub.Count({ count: 1 });
  await assert.rejects(
    (async () => {
      for await (const _ of c) { /* nothing arrives */ }
    })(),
    isCode(Code.RESOURCE_EXHAUSTED, /too many streams open on one connection \(limit 2\)/),
  );
  assert.equal((await f.stub.Get({ n: 7 })).n, 7, "unary calls are not streams");
  a.cancel();
  b.cancel();
  assert.equal(f.logger.find("warn", "stream refused: too many streams").length, 1);
});

Deno.test("a message over maxMessageBytes fails its stream alone with RESOURCE_EXHAUSTED", async () => {
  await using f = await startFeed({ channel: { maxMessageBytes: 64 * 1024 } });
  await assert.rejects(
    (async () => {
      for await (const _ of f.stub.Blobs({ count: 3, size: 100 * 1024 })) { /* none fits */ }
    })(),
    isCode(Code.RESOURCE_EXHAUSTED, /exceeds the caller's maxMessageBytes 65536/),
  );
  let n = 0;
  for await (const _ of f.stub.Blobs({ count: 3, size: 1024 })) n++;
  assert.equal(n, 3);
});

Deno.test("headers and trailers that nobody reads never reject unhandled", async () => {
  await using f = await startFeed();
  const stream = f.stub.Count({ count: 1000, delayMs: 5 });
  stream.cancel();
  await assert.rejects(
    (async () => {
      for await (const _ of stream) { /* cancelled */ }
    })(),
    isCode(Code.CANCELLED),
  );
  // An unhandled rejection would fail this test (Deno reports it as an uncaught error).
  await new Promise((r) => setTimeout(r, 10));
});
