/**
 * `lendRequestBytes` end to end, over loopback: a unary handler's `bytes` fields are views into
 * the connection's receive buffer, and that buffer is not read into again (nor handed out again
 * by the pool) until the handler's result settles, however many other requests the same
 * connection receives and answers meanwhile.
 */
import assert from "node:assert/strict";
import { Code, parseProto, RpcChannel, RpcError, RpcProvider, type StubMethod } from "../../mod.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import {
  assertBlob,
  type Blob,
  blob,
  digest,
  pattern,
  settled,
  values,
} from "../_helpers/patterned_blobs.ts";
import { isCode } from "../_helpers/is_code.ts";

const root = parseProto(`syntax = "proto3"; package lendtest;
  message Blob { uint32 id = 1; bytes data = 2; repeated bytes parts = 3; }
  message Note { uint32 id = 1; string text = 2; }
  service Store {
    rpc Echo(Blob) returns (Blob);
    rpc EchoLater(Blob) returns (Blob);
    rpc Hold(Blob) returns (Blob);
    rpc Fail(Blob) returns (Blob);
    rpc FailLater(Blob) returns (Blob);
    rpc Note(Note) returns (Note);
  }`);
const store = root.lookupService("lendtest.Store");

/** Request payloads several of which fit in one read (the read-buffer path). */
const SMALL = 300;
/** Request payloads read straight into a body of their own (the direct-read path). */
const LARGE = 100_000;

interface StoreStub {
  Echo: StubMethod<Blob, Blob>;
  EchoLater: StubMethod<Blob, Blob>;
  Hold: StubMethod<Blob, Blob>;
  Fail: StubMethod<Blob, Blob>;
  FailLater: StubMethod<Blob, Blob>;
  Note: StubMethod<{ id: number; text: string }, { id: number; text: string }>;
}

/** Handlers waiting on a gate each, opened one at a time by the test. */
class Gates {
  #open = new Map<number, () => void>();
  #entered = 0;
  #want = 0;
  #all: (() => void) | undefined;

  /** Resolves once `n` more handlers wait on their gate. */
  expect(n: number): Promise<void> {
    this.#entered = 0;
    this.#want = n;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#all = resolve;
    return promise;
  }

  /** Waits until the test opens the gate of `id`. */
  wait(id: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#open.set(id, resolve);
    if (++this.#entered === this.#want) this.#all?.();
    return promise;
  }

  open(id: number): void {
    const resolve = this.#open.get(id);
    assert.ok(resolve !== undefined, `no handler waits on gate ${id}`);
    this.#open.delete(id);
    resolve();
  }

  /** Opens every gate still closed (so no handler is left pending at close). */
  openAll(): void {
    for (const id of [...this.#open.keys()]) this.open(id);
  }
}

interface Fixture {
  stub: StoreStub;
  gates: Gates;
  logger: CaptureLogger;
  provider: RpcProvider;
}

async function withStore(
  options: { legacy?: boolean },
  fn: (f: Fixture) => Promise<void>,
): Promise<void> {
  const gates = new Gates();
  const logger = new CaptureLogger();
  const provider = new RpcProvider({
    port: 0,
    lendRequestBytes: true,
    legacy: options.legacy === true,
    logger,
  });
  const echo = (req: Blob): Blob => ({ id: req.id, data: req.data, parts: req.parts });
  provider.notifyService(store, {
    Echo: (req) => echo(req as unknown as Blob),
    EchoLater: async (req) => {
      // Resumes after the read loop went on: the lease is held across at least one more read.
      await new Promise((r) => setTimeout(r, 1));
      return echo(req as unknown as Blob);
    },
    Hold: async (req) => {
      await gates.wait(req.id as number);
      return echo(req as unknown as Blob);
    },
    Fail: (req) => {
      const data = req.data as Uint8Array;
      if ((req.id as number) % 2 === 0) throw new RpcError(Code.FAILED_PRECONDITION, digest(data));
      return Promise.reject(new Error(`boom ${digest(data)}`));
    },
    FailLater: async (req) => {
      await gates.wait(req.id as number);
      throw new RpcError(Code.ABORTED, digest(req.data as Uint8Array));
    },
    Note: async (req) => {
      await new Promise((r) => setTimeout(r, 1));
      return { id: req.id, text: `seen ${req.text}` };
    },
  });
  await provider.start();
  // One channel to one address: every call shares one connection.
  const channel = new RpcChannel({ address: provider.address, logger: new CaptureLogger() });
  try {
    const stub = channel.stub<StoreStub>(store);
    await warmUp(stub);
    await fn({ stub, gates, logger, provider });
  } finally {
    gates.openAll();
    await channel.close();
    await provider.close({ graceMs: 0 });
  }
}

let nextId = 1000;

/**
 * `count` echo calls at once, all checked: half answered at once and half after a timer (their
 * handlers hold their leases across later reads), or all at once (`later` false).
 */
async function burst(stub: StoreStub, count: number, size: number, later = true): Promise<void> {
  const ids = Array.from({ length: count }, () => nextId += 3);
  const res = await settled(
    ids.map((id, i) => (later && i % 2 === 0 ? stub.EchoLater : stub.Echo)(blob(id, size))),
  );
  res.forEach((r, i) => assertBlob(r, ids[i]!, size));
}

/**
 * Grows the provider's read buffer to its largest size (reads that fill it make it grow), so
 * the buffers a later test swaps in are all of one size and reused from the pool.
 */
async function warmUp(stub: StoreStub): Promise<void> {
  for (let i = 0; i < 2; i++) await burst(stub, 500, 1500, false);
}

/**
 * `held` handlers, whose requests arrive together, wait while bursts of other requests are
 * received and answered on the same connection; they are let go one at a time (not in arrival
 * order) with a burst between each, and each then answers with the request bytes it was lent.
 */
async function heldWhileOthersAnswered(
  f: Fixture,
  size: number,
  held: number,
  burstCalls: number,
): Promise<void> {
  const ids = Array.from({ length: held }, () => nextId += 3);
  const entered = f.gates.expect(held);
  // Never rejects: calls left pending by a failed assertion fail quietly at close.
  const answers = Promise.allSettled(ids.map((id) => f.stub.Hold(blob(id, size))));
  await entered;
  const order = ids.map((_, i) => (i * 5 + 2) % held);
  assert.equal(new Set(order).size, held);
  try {
    for (const i of order) {
      await burst(f.stub, burstCalls, size);
      f.gates.open(ids[i]!);
    }
  } finally {
    f.gates.openAll();
  }
  const res = values(await answers);
  res.forEach((r, i) => assertBlob(r, ids[i]!, size));
}

Deno.test("a handler awaiting while the connection answers other small requests keeps its request bytes", async () => {
  await withStore({}, async (f) => {
    await heldWhileOthersAnswered(f, SMALL, 6, 32);
    await heldWhileOthersAnswered(f, SMALL, 6, 32);
    assert.deepEqual(f.logger.problems, []);
  });
});

Deno.test("a handler awaiting while the connection answers other requests of 64 KiB and more keeps its request bytes", async () => {
  await withStore({}, async (f) => {
    await heldWhileOthersAnswered(f, LARGE, 4, 6);
    // Sizes of one class and of others, small ones among them.
    await heldWhileOthersAnswered(f, 70_000, 3, 6);
    await burst(f.stub, 8, SMALL);
    assert.deepEqual(f.logger.problems, []);
  });
});

Deno.test("small and large requests held at once keep their bytes while both kinds are answered", async () => {
  await withStore({}, async (f) => {
    const small = Array.from({ length: 4 }, () => nextId += 3);
    const large = Array.from({ length: 3 }, () => nextId += 3);
    const entered = f.gates.expect(small.length + large.length);
    const answers = Promise.allSettled([
      ...small.map((id) => f.stub.Hold(blob(id, SMALL))),
      ...large.map((id) => f.stub.Hold(blob(id, LARGE))),
    ]);
    await entered;
    try {
      for (let i = 0; i < large.length; i++) {
        await settled([burst(f.stub, 24, SMALL), burst(f.stub, 4, LARGE)]);
        f.gates.open(small[i]!);
        f.gates.open(large[i]!);
      }
      await burst(f.stub, 24, SMALL);
    } finally {
      f.gates.openAll();
    }
    const res = values(await answers);
    small.forEach((id, i) => assertBlob(res[i]!, id, SMALL));
    large.forEach((id, i) => assertBlob(res[small.length + i]!, id, LARGE));
  });
});

Deno.test("a lent handler that throws or rejects fails its call, and later calls get their own bytes", async () => {
  await withStore({}, async (f) => {
    for (const size of [SMALL, LARGE]) {
      for (let round = 0; round < 3; round++) {
        nextId += 4;
        const even = nextId - (nextId % 2); // throws an RpcError
        const odd = even + 1; // returns a rejected promise of a plain Error
        const calls = [
          assert.rejects(
            f.stub.Fail(blob(even, size)),
            isCode(Code.FAILED_PRECONDITION, digest(pattern(even, size))),
          ),
          assert.rejects(
            f.stub.Fail(blob(odd, size)),
            isCode(Code.INTERNAL, `boom ${digest(pattern(odd, size))}`),
          ),
          burst(f.stub, 8, size),
        ];
        await settled(calls);
      }
    }
    assert.equal(f.logger.find("error", "handler failed").length, 6);
  });
});

Deno.test("a lent handler rejecting after other requests were answered reports the bytes it was lent", async () => {
  await withStore({}, async (f) => {
    for (const size of [SMALL, LARGE]) {
      const ids = Array.from({ length: 4 }, () => nextId += 3);
      const entered = f.gates.expect(ids.length);
      const failures = Promise.allSettled(ids.map((id) =>
        assert.rejects(
          f.stub.FailLater(blob(id, size)),
          isCode(Code.ABORTED, digest(pattern(id, size))),
        )
      ));
      await entered;
      try {
        for (const id of [ids[2]!, ids[0]!, ids[3]!, ids[1]!]) {
          await burst(f.stub, size === SMALL ? 32 : 6, size);
          f.gates.open(id);
        }
      } finally {
        f.gates.openAll();
      }
      values(await failures);
      await burst(f.stub, 8, size);
    }
  });
});

Deno.test("a request type without bytes fields is served as without lending", async () => {
  await withStore({}, async (f) => {
    const texts = Array.from({ length: 40 }, (_, i) => `note ${i} ${"é".repeat(i * 30)}`);
    const res = await settled(texts.map((text, id) => f.stub.Note({ id, text })));
    res.forEach((r, id) => assert.deepEqual(r, { id, text: `seen ${texts[id]}` }));
    // Bytes calls on the same connection are still lent and still intact.
    await heldWhileOthersAnswered(f, SMALL, 3, 16);
  });
});

Deno.test("lendRequestBytes with legacy on: native callers (sniffed) are lent, legacy callers copy, both intact", async () => {
  await withStore({ legacy: true }, async (f) => {
    // The sniffed connection: its first bytes are handed over (never lent), the rest is read.
    await heldWhileOthersAnswered(f, SMALL, 4, 24);
    await heldWhileOthersAnswered(f, LARGE, 3, 4);
    const legacy = new RpcChannel({
      address: f.provider.address,
      protocol: "mprpc-legacy",
      logger: new CaptureLogger(),
    });
    try {
      const stub = legacy.stub<StoreStub>(store);
      const ids = Array.from({ length: 6 }, () => nextId += 3);
      const sizes = ids.map((_, i) => (i % 2 === 0 ? SMALL : LARGE));
      const res = await settled(ids.map((id, i) => stub.EchoLater(blob(id, sizes[i]!))));
      res.forEach((r, i) => assertBlob(r, ids[i]!, sizes[i]!));
    } finally {
      await legacy.close();
    }
  });
});

Deno.test("notifyService's lendRequestBytes overrides the provider's, service by service, on one connection", async () => {
  const other = parseProto(`syntax = "proto3"; package lendtest2;
    message Blob { uint32 id = 1; bytes data = 2; }
    service Keep { rpc Put(Blob) returns (Blob); }`).lookupService("lendtest2.Keep");
  // A 2,000-byte field copied out of the read buffer is an array of its own; a lent one is a
  // view into the (larger) receive buffer.
  const lentSeen: boolean[] = [];
  const kept: Uint8Array[] = [];
  const provider = new RpcProvider({
    port: 0,
    lendRequestBytes: true,
    logger: new CaptureLogger(),
  });
  provider.notifyService(store, {
    Echo: (req) => {
      const data = req.data as Uint8Array;
      lentSeen.push(data.buffer.byteLength !== data.length);
      return req;
    },
  });
  provider.notifyService(other, {
    Put: (req) => {
      const data = req.data as Uint8Array;
      kept.push(data);
      return { id: req.id, data: new Uint8Array(0) };
    },
  }, { lendRequestBytes: false });
  await provider.start();
  const channel = new RpcChannel({ address: provider.address });
  try {
    const echo = (channel.stub(store) as unknown as StoreStub).Echo;
    const put = channel.stub(other).Put!;
    for (let id = 1; id <= 20; id++) assertBlob(await echo(blob(id, 2000)), id, 2000);
    // The first request of the connection is copied (lending starts with it); the rest are lent.
    assert.deepEqual(lentSeen, [false, ...new Array(19).fill(true)]);
    for (let id = 100; id < 110; id++) await put({ id, data: pattern(id, 2000) });
    await Promise.all(Array.from({ length: 50 }, (_, i) => echo(blob(200 + i, 2000))));
    for (let i = 0; i < 10; i++) {
      assert.equal(
        kept[i]!.buffer.byteLength,
        2000,
        "a request of a service not lending is its own",
      );
      assert.equal(digest(kept[i]!), digest(pattern(100 + i, 2000)));
    }
  } finally {
    await channel.close();
    await provider.close();
  }
  // And the other way round: a provider not lending, one service that does.
  const seen: boolean[] = [];
  const provider2 = new RpcProvider({ port: 0, logger: new CaptureLogger() });
  provider2.notifyService(store, {
    Echo: (req) => {
      const data = req.data as Uint8Array;
      seen.push(data.buffer.byteLength !== data.length);
      return req;
    },
  }, { lendRequestBytes: true });
  await provider2.start();
  const channel2 = new RpcChannel({ address: provider2.address });
  try {
    const echo = (channel2.stub(store) as unknown as StoreStub).Echo;
    for (let id = 1; id <= 5; id++) assertBlob(await echo(blob(id, 2000)), id, 2000);
    assert.deepEqual(seen, [false, true, true, true, true]);
  } finally {
    await channel2.close();
    await provider2.close();
  }
});
