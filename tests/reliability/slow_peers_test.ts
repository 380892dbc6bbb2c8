/**
 * Slow-loris and idle peers, and the connection and in-flight limits: the provider sheds them
 * with a status or a close, and keeps serving everyone else.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { Kind } from "../../src/wire/meta.ts";
import { type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { closeQuietly, decodeFrames, readToEnd } from "../_helpers/raw_tcp.ts";

const READ_TIMEOUT_MS = 200;

function frameBytes(kind: number, callId: number): Uint8Array {
  const w = new FrameWriter();
  w.writeFrame({ kind, callId });
  return w.take().slice();
}

/** Reads until the provider closes; returns how long that took after `since`. */
async function closedAfter(conn: Deno.TcpConn, since: number): Promise<number> {
  await readToEnd(conn);
  return Date.now() - since;
}

function timeoutLines(k: { logger: { find(l: "warn", t: string): { fields: object }[] } }) {
  return k.logger.find("warn", "closing connection: read timeout");
}

Deno.test("a peer that stalls mid-frame is closed after readTimeoutMs with one warning", async () => {
  await using k = await startKitchen({ provider: { readTimeoutMs: READ_TIMEOUT_MS } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  try {
    const ping = frameBytes(Kind.PING, 1);
    const t0 = Date.now();
    await conn.write(ping.subarray(0, 7)); // magic and half a length
    const ms = await closedAfter(conn, t0);
    assert.ok(ms >= READ_TIMEOUT_MS - 10, `closed after ${ms} ms, before the read timeout`);
    const lines = timeoutLines(k);
    assert.equal(lines.length, 1);
    assert.match(String((lines[0]!.fields as { why: string }).why), /unfinished frame \(7 bytes\)/);
  } finally {
    closeQuietly(conn);
  }
  assert.equal((await k.stub.Echo({ text: "still here" })).text, "still here");
});

Deno.test("a slow-loris trickling one byte at a time is closed after readTimeoutMs", async () => {
  await using k = await startKitchen({ provider: { readTimeoutMs: READ_TIMEOUT_MS } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  const bytes = new Uint8Array(64).fill(0);
  bytes.set(frameBytes(Kind.PING, 1).subarray(0, 12)); // a header declaring a body...
  new DataView(bytes.buffer).setUint32(4, 1000); // ...of 1000 bytes, sent 1 byte per 20 ms
  const t0 = Date.now();
  let sent = 0;
  try {
    for (; sent < bytes.length; sent++) {
      try {
        await conn.write(bytes.subarray(sent, sent + 1));
      } catch {
        break; // closed by the provider
      }
      await new Promise((r) => setTimeout(r, 20));
      if (k.provider.connectionCount === 0) break;
    }
    await closedAfter(conn, t0);
  } finally {
    closeQuietly(conn);
  }
  assert.ok(sent < bytes.length, "the trickle was never cut off");
  assert.equal(timeoutLines(k).length, 1);
});

Deno.test("a peer whose reads end mid-frame but complete a frame every 100 ms is not cut off by the read timeout", async () => {
  const readTimeoutMs = 500;
  await using k = await startKitchen({ provider: { readTimeoutMs } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  const frames = 15; // 1.5 s: three read timeouts
  const bytes = new Uint8Array(frames * 20);
  let len = 0;
  for (let i = 1; i <= frames; i++) {
    const f = frameBytes(Kind.PING, i);
    bytes.set(f, len);
    len += f.length;
  }
  const half = Math.floor(len / frames / 2);
  try {
    // Each write is the end of one frame and the start of the next: the provider always holds
    // an unfinished frame, and completes one every 100 ms.
    await conn.write(bytes.subarray(0, half));
    const step = len / frames;
    for (let i = 1; i < frames; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await conn.write(bytes.subarray(half + (i - 1) * step, half + i * step));
    }
    await new Promise((r) => setTimeout(r, 100));
    await conn.write(bytes.subarray(half + (frames - 1) * step, len));
    await conn.closeWrite();
    const got = decodeFrames(await readToEnd(conn));
    assert.equal(got.length, frames, "PONGs received");
  } finally {
    closeQuietly(conn);
  }
  assert.equal(timeoutLines(k).length, 0);
});

Deno.test("a large frame that keeps arriving (1 KiB per 100 ms) is not cut off by the read timeout", async () => {
  const readTimeoutMs = 500;
  await using k = await startKitchen({ provider: { readTimeoutMs } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  const w = new FrameWriter();
  w.writeFrame({ kind: Kind.PING, callId: 7 }, new Uint8Array(12 * 1024));
  const bytes = w.take().slice();
  try {
    for (let off = 0; off < bytes.length; off += 1024) {
      await conn.write(bytes.subarray(off, Math.min(off + 1024, bytes.length)));
      await new Promise((r) => setTimeout(r, 100));
    }
    await conn.closeWrite();
    const got = decodeFrames(await readToEnd(conn));
    assert.deepEqual(got.map((f) => [f.meta.kind, f.meta.callId]), [[Kind.PONG, 7]]);
  } finally {
    closeQuietly(conn);
  }
  assert.equal(timeoutLines(k).length, 0);
});

Deno.test("a peer that connects and never sends is closed after readTimeoutMs", async () => {
  await using k = await startKitchen({ provider: { readTimeoutMs: READ_TIMEOUT_MS } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  try {
    const ms = await closedAfter(conn, Date.now());
    assert.ok(ms >= READ_TIMEOUT_MS - 10, `closed after ${ms} ms`);
  } finally {
    closeQuietly(conn);
  }
  const lines = timeoutLines(k);
  assert.equal(lines.length, 1);
  assert.match(String((lines[0]!.fields as { why: string }).why), /no frame within/);
});

Deno.test("a quiet peer that sent whole frames is not closed by the read timeout", async () => {
  await using k = await startKitchen({ provider: { readTimeoutMs: READ_TIMEOUT_MS } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
  try {
    await conn.write(frameBytes(Kind.PING, 1));
    await new Promise((r) => setTimeout(r, READ_TIMEOUT_MS * 3));
    await conn.write(frameBytes(Kind.PING, 2));
    await conn.closeWrite();
    const frames = decodeFrames(await readToEnd(conn));
    assert.deepEqual(frames.map((f) => [f.meta.kind, f.meta.callId]), [
      [Kind.PONG, 1],
      [Kind.PONG, 2],
    ]);
  } finally {
    closeQuietly(conn);
  }
  assert.equal(timeoutLines(k).length, 0);
});

Deno.test("idleTimeoutMs closes idle connections; the channel reconnects for the next call", async () => {
  await using k = await startKitchen({
    provider: { idleTimeoutMs: 200 },
    channel: { keepaliveMs: 0 },
  });
  assert.equal((await k.stub.Echo({ text: "1" })).text, "1");
  assert.equal(k.provider.connectionCount, 1);
  // A call longer than the idle timeout is not cut: the connection has a call in flight.
  const slow = await k.stub.Sleep({ ms: 500, token: "long" });
  assert.equal(slow.aborted, false);
  for (let i = 0; i < 100 && k.provider.connectionCount > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(k.provider.connectionCount, 0, "the idle connection was not closed");
  assert.ok(k.logger.find("info", "closing idle connection").length >= 1);
  assert.equal((await k.stub.Echo({ text: "2" })).text, "2");
});

Deno.test("maxConnections: the extra caller gets RESOURCE_EXHAUSTED, the others keep working", async () => {
  await using k = await startKitchen({ provider: { maxConnections: 2 } });
  const others = [
    new RpcChannel({ address: k.provider.address, logger: k.logger }),
    new RpcChannel({ address: k.provider.address, logger: k.logger }),
  ];
  try {
    // k.channel holds connection 1, others[0] connection 2.
    assert.equal((await k.stub.Echo({ text: "a" })).text, "a");
    const second = others[0]!.stub<KitchenStub>(k.service);
    assert.equal((await second.Echo({ text: "b" })).text, "b");
    const third = others[1]!.stub<KitchenStub>(k.service);
    await assert.rejects(third.Echo({ text: "c" }), (e: unknown) => {
      assert.ok(e instanceof RpcError, String(e));
      assert.equal(e.code, Code.RESOURCE_EXHAUSTED, e.message);
      assert.match(e.message, /too many connections \(limit 2\)/);
      return true;
    });
    assert.equal(k.logger.find("warn", "too many connections").length, 1);
    assert.equal((await k.stub.Echo({ text: "a2" })).text, "a2");
    assert.equal((await second.Echo({ text: "b2" })).text, "b2");
    // Once a slot frees up, the refused caller gets in.
    await others[0]!.close();
    for (let i = 0; i < 100 && k.provider.connectionCount > 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((await third.Echo({ text: "c2" })).text, "c2");
  } finally {
    await Promise.all(others.map((c) => c.close()));
  }
});

Deno.test("maxInflightPerConnection: calls over the limit get RESOURCE_EXHAUSTED", async () => {
  await using k = await startKitchen({ provider: { maxInflightPerConnection: 2 } });
  const calls = [1, 2, 3].map((i) => k.stub.Sleep({ ms: 300, token: `t${i}` }));
  const results = await Promise.allSettled(calls);
  assert.equal(results[0]!.status, "fulfilled");
  assert.equal(results[1]!.status, "fulfilled");
  const third = results[2]!;
  assert.equal(third.status, "rejected");
  assert.ok(third.reason instanceof RpcError);
  assert.equal(third.reason.code, Code.RESOURCE_EXHAUSTED);
  assert.match(third.reason.message, /limit 2/);
  // The handler never ran for the refused call, and the connection is still usable.
  assert.deepEqual(k.tokens.toSorted(), ["t1", "t2"]);
  assert.equal((await k.stub.Sleep({ ms: 1, token: "t4" })).token, "t4");
});
