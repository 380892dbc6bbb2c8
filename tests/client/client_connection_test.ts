import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel, type RpcChannelOptions } from "../../src/client/rpc_channel.ts";
import { Kind } from "../../src/wire/meta.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { ClientConnection } from "../../src/client/client_connection.ts";
import { DeadlineWheel } from "../../src/util/deadline_wheel.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { deadPort, FrameSocket, readToEnd, startRawServer } from "../_helpers/raw_tcp.ts";
import { isCode } from "../_helpers/is_code.ts";

async function channelTo(port: number, options: Omit<RpcChannelOptions, "address"> = {}) {
  const logger = new CaptureLogger();
  const channel = new RpcChannel({ address: { host: "127.0.0.1", port }, logger, ...options });
  const stub = channel.stub<KitchenStub>(await kitchenService());
  return { channel, stub, logger };
}

Deno.test("a call to a port with nothing listening fails UNAVAILABLE promptly", async () => {
  const port = deadPort();
  const { channel, stub, logger } = await channelTo(port, { timeoutMs: 10_000 });
  try {
    const t0 = Date.now();
    await assert.rejects(
      stub.Echo({ text: "anyone?" }),
      isCode(Code.UNAVAILABLE, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`)),
    );
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    // The next call fails fast too (the provider is backing off, but is retried when alone).
    const t1 = Date.now();
    await assert.rejects(stub.Echo({}), isCode(Code.UNAVAILABLE));
    assert.ok(Date.now() - t1 < 1000);
    assert.ok(logger.find("warn", "provider unreachable").length >= 1);
  } finally {
    await channel.close();
  }
});

Deno.test("reconnect backoff counts connection attempts, not the calls waiting on one", async () => {
  const { channel, stub, logger } = await channelTo(deadPort(), { timeoutMs: 10_000 });
  try {
    // Eight calls wait on the same (refused) connection attempt.
    const calls = Array.from({ length: 8 }, (_, i) => stub.Echo({ text: `w${i}` }));
    for (const c of calls) await assert.rejects(c, isCode(Code.UNAVAILABLE));
    const lines = logger.find("warn", "provider unreachable");
    assert.deepEqual(
      lines.map((l) => l.fields.backoffMs),
      [100],
      "one failed attempt, the first step of the backoff",
    );
  } finally {
    await channel.close();
  }
});

Deno.test("calls pending on a connection the provider drops fail with UNAVAILABLE", async () => {
  // A "provider" that accepts, answers the handshake, reads the first request, and hangs up.
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    await s.next();
    conn.close();
  });
  const { channel, stub } = await channelTo(server.port, { timeoutMs: 10_000 });
  try {
    const t0 = Date.now();
    const calls = [1, 2, 3].map((i) => stub.Sleep({ ms: 1, token: `t${i}` }));
    for (const c of calls) await assert.rejects(c, isCode(Code.UNAVAILABLE, /closed/));
    assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
    assert.equal(server.accepted, 1, "the three calls shared one connection");
  } finally {
    await channel.close();
  }
});

Deno.test("a provider that shuts down mid-call fails the call with UNAVAILABLE", async () => {
  await using k = await startKitchen();
  const call = k.stub.Sleep({ ms: 10_000, token: "doomed" });
  await k.events.wait("started:doomed");
  const failed = assert.rejects(call, isCode(Code.UNAVAILABLE));
  await k.provider.close({ graceMs: 0 });
  await failed;
});

Deno.test("the channel reconnects to a provider restarted on the same port", async () => {
  const first = await startKitchen();
  const { port } = first.provider.address;
  const { channel, stub, logger } = await channelTo(port);
  try {
    assert.equal((await stub.Echo({ text: "first" })).text, "first");
    await first.close();
    await logger.waitFor("info", "provider going away");
    const second = await startKitchen({ provider: { port } });
    try {
      assert.equal((await stub.Echo({ text: "second" })).text, "second");
      assert.deepEqual(second.tokens, ["second"]);
    } finally {
      await second.close();
    }
  } finally {
    await channel.close();
  }
});

Deno.test("retries: 1 covers a call sent on a connection the restarted provider already closed", async () => {
  const first = await startKitchen();
  const { port } = first.provider.address;
  const { channel, stub } = await channelTo(port);
  try {
    assert.equal((await stub.Echo({ text: "first" })).text, "first");
    await first.close();
    const second = await startKitchen({ provider: { port } });
    try {
      // No event-loop turn since the old provider closed: the channel may not have seen its
      // GOAWAY yet, so the first attempt can go out on the dead connection and fail UNAVAILABLE.
      assert.equal((await stub.Echo({ text: "second" }, { retries: 1 })).text, "second");
    } finally {
      await second.close();
    }
  } finally {
    await channel.close();
  }
});

Deno.test("keepalive: a provider that stops answering fails calls with UNAVAILABLE well before the deadline", async () => {
  // Accepts, reads everything (and records the frames), never answers.
  const received: number[] = [];
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    for (;;) {
      const f = await s.next(10_000).catch(() => null);
      if (f === null) return;
      received.push(f.meta.kind);
    }
  });
  const keepaliveMs = 100;
  const keepaliveTimeoutMs = 100;
  const { channel, stub, logger } = await channelTo(server.port, {
    timeoutMs: 10_000,
    keepaliveMs,
    keepaliveTimeoutMs,
  });
  try {
    const t0 = Date.now();
    await assert.rejects(
      stub.Sleep({ ms: 1, token: "silent" }),
      isCode(Code.UNAVAILABLE, /did not answer a ping within 100 ms/),
    );
    const elapsed = Date.now() - t0;
    // Detection runs on a timer every min(keepaliveMs, keepaliveTimeoutMs)/2 ms, so allow two
    // of its periods on top of keepaliveMs + keepaliveTimeoutMs.
    const bound = keepaliveMs + keepaliveTimeoutMs + 2 * 50 + 100;
    assert.ok(
      elapsed >= keepaliveMs + keepaliveTimeoutMs - 5,
      `failed after ${elapsed} ms, too early`,
    );
    assert.ok(elapsed <= bound, `failed after ${elapsed} ms, expected within ${bound} ms`);
    assert.ok(received.includes(Kind.PING), `the provider got a PING (got kinds ${received})`);
    assert.equal(logger.find("warn", "provider not answering pings").length, 1);
  } finally {
    await channel.close();
  }
});

Deno.test("keepalive: an idle connection to a live provider survives pings", async () => {
  // Pings every ~40 ms of silence; a generous timeout so a loaded machine does not fail them.
  await using k = await startKitchen({ channel: { keepaliveMs: 40, keepaliveTimeoutMs: 2000 } });
  assert.equal((await k.stub.Echo({ text: "one" })).text, "one");
  await new Promise((r) => setTimeout(r, 200)); // several ping rounds
  assert.equal((await k.stub.Echo({ text: "two" })).text, "two");
  assert.equal(k.provider.connectionCount, 1, "the same connection is still in use");
  assert.deepEqual(k.logger.find("warn", "not answering pings"), []);
});

Deno.test("a provider sending garbage fails the pending call with INTERNAL and logs a protocol error", async () => {
  await using server = startRawServer(async (conn) => {
    await conn.read(new Uint8Array(1024));
    await conn.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await readToEnd(conn);
  });
  const { channel, stub, logger } = await channelTo(server.port);
  try {
    await assert.rejects(
      stub.Echo({}),
      isCode(Code.INTERNAL, /protocol error from 127\.0\.0\.1:\d+: bad frame magic/),
    );
    assert.equal(logger.find("warn", "closing connection: protocol error").length, 1);
  } finally {
    await channel.close();
  }
});

Deno.test("GOAWAY with a status fails the calls on that connection with it", async () => {
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    const req = await s.next();
    assert.equal(req?.meta.kind, Kind.REQUEST);
    await s.send({
      kind: Kind.GOAWAY,
      callId: 0,
      status: Code.RESOURCE_EXHAUSTED,
      errorMessage: "full",
    });
    await readToEnd(conn);
  });
  const { channel, stub } = await channelTo(server.port);
  try {
    await assert.rejects(stub.Echo({}), isCode(Code.RESOURCE_EXHAUSTED, /^full$/));
  } finally {
    await channel.close();
  }
});

Deno.test("a late response to a call that already timed out is dropped", async () => {
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    const first = await s.next();
    await new Promise((r) => setTimeout(r, 80));
    await s.send({ kind: Kind.RESPONSE, callId: first!.meta.callId }, new Uint8Array(0));
    const cancel = await s.next();
    assert.equal(cancel?.meta.kind, Kind.CANCEL);
    const second = await s.next();
    await s.send(
      { kind: Kind.RESPONSE, callId: second!.meta.callId },
      new Uint8Array([0x0a, 0x02, 0x6f, 0x6b]),
    );
    await readToEnd(conn);
  });
  const { channel, stub } = await channelTo(server.port);
  try {
    await assert.rejects(
      stub.Echo({ text: "slow" }, { timeoutMs: 30 }),
      isCode(Code.DEADLINE_EXCEEDED),
    );
    assert.equal((await stub.Echo({ text: "fast" })).text, "ok");
  } finally {
    await channel.close();
  }
});

Deno.test("a provider that floods pings and never reads does not grow the caller's unsent output past its bound", async () => {
  const pings = 2_000_000; // about 28 MiB of PINGs, and as many PONGs: more than the socket buffers hold
  const maxUnsentBytes = 64 * 1024;
  let flooded!: () => void;
  const done = new Promise<void>((r) => flooded = r);
  let finish!: () => void;
  const over = new Promise<void>((r) => finish = r);
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    await s.handshake();
    // From here on the provider never reads: the caller's PONGs pile up in its send queue.
    const w = new FrameWriter();
    for (let i = 1; i <= pings; i++) w.writeFrame({ kind: Kind.PING, callId: i }, undefined);
    await s.write(w.take());
    flooded();
    await over;
    s.close();
  });
  const wheel = new DeadlineWheel();
  const conn = new ClientConnection({
    host: "127.0.0.1",
    port: server.port,
    maxMessageBytes: 4 * 1024 * 1024,
    wheel,
    logger: new CaptureLogger(),
    connectTimeoutMs: 3000,
    maxUnsentBytes,
    onGone: () => {},
    onClosed: () => {},
  });
  try {
    await conn.connect();
    await done;
    // Every PING has been read once the provider's write finished and the caller caught up.
    await new Promise((r) => setTimeout(r, 200));
    // One PONG may be queued past the bound (the check comes before the send), never thousands.
    assert.ok(
      conn.unsentBytes <= maxUnsentBytes + 64,
      `${conn.unsentBytes} bytes of PONGs unsent (bound ${maxUnsentBytes})`,
    );
  } finally {
    finish();
    await conn.close(new RpcError(Code.CANCELLED, "test over"));
    wheel.close();
  }
});
