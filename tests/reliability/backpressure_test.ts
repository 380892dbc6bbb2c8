/**
 * Backpressure: a caller that sends requests and never reads the answers cannot make the
 * provider buffer without bound; a provider that stops reading cannot make the caller buffer
 * without bound either.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import { FrameDecoder } from "../../src/wire/frame.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { encodeRoute, Kind } from "../../src/wire/meta.ts";
import { type Kitchen, type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { closeQuietly, FrameSocket, startRawServer } from "../_helpers/raw_tcp.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { DEFAULT_MAX_UNSENT_REQUEST_BYTES } from "../../src/client/client_connection.ts";

const MAX_UNSENT = 256 * 1024;
/** Output one read of requests can add at once (the provider's 256 KiB read buffer of echoes). */
const ONE_READ = 320 * 1024;
const REQUESTS = 40_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A peer flooding `kitchen.Kitchen.Echo` requests of 1 KiB, never reading unless told to. Each
 * write holds back the last 7 bytes of its last frame (sent with the next write), so what the
 * provider has read always ends mid-frame.
 */
async function flood(k: Kitchen, total: number) {
  const echo = describeMethod(k.service.methods["Echo"]!);
  const payload = echo.request.encode({ text: "x".repeat(1000) });
  const route = encodeRoute("kitchen.Kitchen", "Echo");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  const state = { sent: 0, conn, writer: Promise.resolve() };
  state.writer = (async () => {
    const batch = 100;
    let carry = new Uint8Array(0);
    for (let i = 0; i < total; i += batch) {
      const w = new FrameWriter();
      for (let j = 1; j <= batch; j++) {
        w.writeFrame({ kind: Kind.REQUEST, callId: i + j, route }, payload);
      }
      const frames = w.take();
      const stream = new Uint8Array(carry.length + frames.length);
      stream.set(carry);
      stream.set(frames, carry.length);
      const cut = i + batch >= total ? stream.length : stream.length - 7;
      carry = stream.slice(cut);
      let off = 0;
      while (off < cut) off += await conn.write(stream.subarray(off, cut));
      state.sent += batch;
    }
  })();
  // Awaited by the tests; this only keeps a reset from going unhandled before they do.
  void state.writer.catch(() => {});
  return state;
}

/** Waits until the flood makes no progress for 300 ms (the provider stopped reading). */
async function stalled(f: { sent: number }, total: number): Promise<void> {
  let last = -1;
  while (f.sent !== last && f.sent < total) {
    last = f.sent;
    await sleep(300);
  }
  assert.ok(f.sent < total, "the provider read every request of a caller that reads nothing");
}

Deno.test("a caller that does not read its answers makes the provider stop reading, not buffer without bound; reading resumes it", async () => {
  await using k = await startKitchen({ provider: { maxUnsentBytes: MAX_UNSENT } });
  const f = await flood(k, REQUESTS);
  try {
    await stalled(f, REQUESTS);
    const unsent = k.provider.unsentBytes;
    assert.ok(unsent <= MAX_UNSENT + ONE_READ, `the provider holds ${unsent} unsent bytes`);
    // Other callers are still served meanwhile.
    assert.equal((await k.stub.Echo({ text: "others" })).text, "others");
    // Now read: every request is answered.
    let answered = 0;
    const decoder = new FrameDecoder(1 << 20, (meta) => {
      if (meta.kind === Kind.RESPONSE && meta.status === 0) answered++;
    });
    const buf = new Uint8Array(256 * 1024);
    while (answered < REQUESTS) {
      const n = await f.conn.read(buf);
      if (n === null) break;
      decoder.push(buf.subarray(0, n));
    }
    await f.writer;
    assert.equal(answered, REQUESTS);
  } finally {
    closeQuietly(f.conn);
    await f.writer.catch(() => {}); // fails once the socket is closed early
  }
});

Deno.test("time a connection spends paused by backpressure does not count toward the read timeout", async () => {
  const readTimeoutMs = 300;
  await using k = await startKitchen({ provider: { maxUnsentBytes: MAX_UNSENT, readTimeoutMs } });
  const f = await flood(k, REQUESTS);
  try {
    await stalled(f, REQUESTS);
    // Paused, holding an unfinished frame, for several read timeouts.
    await sleep(readTimeoutMs * 4);
    assert.deepEqual(k.logger.find("warn", "closing connection: read timeout"), []);
    assert.equal(k.provider.connectionCount, 1, "the flood's connection was closed");
  } finally {
    closeQuietly(f.conn);
    await f.writer.catch(() => {}); // fails once the socket is closed
  }
});

Deno.test("calls to a provider that stops reading fail RESOURCE_EXHAUSTED once the unsent requests pass the bound", async () => {
  let release!: () => void;
  const released = new Promise<void>((r) => release = r);
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    await released; // never read again
  });
  await using k = await startKitchen();
  const channel = new RpcChannel({ address: { host: "127.0.0.1", port: server.port } });
  const stub = channel.stub<KitchenStub>(k.service);
  const text = "y".repeat(64 * 1024);
  const calls: Promise<unknown>[] = [];
  let refused: RpcError | undefined;
  try {
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      calls.push(
        stub.Echo({ text }).catch((e) => {
          if (e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED) refused ??= e;
        }),
      );
      if (i % 8 === 7) await sleep(1); // let the writes go out
    }
    assert.ok(refused, "1000 calls of 64 KiB were queued for a provider that reads nothing");
    assert.match(refused.message, /the provider is not reading/);
    const queued = calls.length * text.length;
    assert.ok(queued < DEFAULT_MAX_UNSENT_REQUEST_BYTES + 32 * 1024 * 1024, `${queued} bytes`);
  } finally {
    await channel.close();
    release();
    await Promise.all(calls);
  }
});
