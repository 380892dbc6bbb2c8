import assert from "node:assert/strict";
import { Code, type RpcError } from "../../src/errors.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import { HEADER_SIZE, MAGIC } from "../../src/wire/frame.ts";
import { encodeRoute, Kind } from "../../src/wire/meta.ts";
import { type Kitchen, startKitchen } from "../_helpers/kitchen.ts";
import { FrameSocket } from "../_helpers/raw_tcp.ts";

function header(bodyLen: number, metaLen: number): Uint8Array {
  const h = new Uint8Array(HEADER_SIZE);
  const v = new DataView(h.buffer);
  v.setUint32(0, MAGIC);
  v.setUint32(4, bodyLen);
  v.setUint32(8, metaLen);
  return h;
}

async function assertServing(k: Kitchen, label: string): Promise<void> {
  assert.equal((await k.stub.Echo({ text: label })).text, label);
}

function sleepCall(k: Kitchen) {
  return describeMethod(k.service.methods["Sleep"]!);
}

Deno.test("garbage bytes make the provider close that connection with one log line, and serve others", async () => {
  await using k = await startKitchen();
  await assertServing(k, "before");
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  assert.equal(await raw.next(), null, "the provider closed the connection");
  const lines = k.logger.find("warn", "closing connection: protocol error");
  assert.equal(lines.length, 1, JSON.stringify(k.logger.lines));
  assert.match(String(lines[0]!.fields.error), /bad frame magic 0x47455420/); // "GET "
  assert.match(String(lines[0]!.fields.peer), /^127\.0\.0\.1:\d+$/);
  assert.equal(k.logger.problems.length, 1, "nothing else went wrong");
  await assertServing(k, "after garbage");
  assert.equal(k.provider.connectionCount, 1, "only the channel's connection is left");
});

Deno.test("an oversize request fails alone with RESOURCE_EXHAUSTED; its body is skipped and the connection serves on", async () => {
  await using k = await startKitchen({ provider: { maxMessageBytes: 1024 } });
  await using raw = await FrameSocket.connect(k.provider.address.port);
  const route = encodeRoute("kitchen.Kitchen", "Echo");
  const meta = new Uint8Array([0x10, 7, ...route]); // call id 7
  const bodyLen = 4096;
  await raw.write(header(bodyLen, meta.length));
  await raw.write(meta);
  await raw.write(new Uint8Array(bodyLen - meta.length).fill(0x41)); // skipped, never parsed
  await raw.send({ kind: Kind.PING, callId: 8 });
  const refused = await raw.next();
  assert.equal(refused?.meta.kind, Kind.RESPONSE);
  assert.equal(refused?.meta.callId, 7);
  assert.equal(refused?.meta.status, Code.RESOURCE_EXHAUSTED);
  assert.match(
    refused!.meta.errorMessage,
    /request of 4096 bytes exceeds the provider's maxMessageBytes 1024/,
  );
  const pong = await raw.next();
  assert.deepEqual([pong?.meta.kind, pong?.meta.callId], [Kind.PONG, 8], "the connection lives on");
  assert.equal(k.logger.find("warn", "request too large").length, 1);
  assert.equal(k.logger.find("warn", "closing connection").length, 0);
  assert.deepEqual(k.tokens, [], "no handler ran");
  await assertServing(k, "after oversize");
});

Deno.test("an oversize frame whose meta alone is over the limit closes that connection before reading the body", async () => {
  await using k = await startKitchen({ provider: { maxMessageBytes: 1024 } });
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.write(header(4096, 2048));
  assert.equal(await raw.next(), null);
  const lines = k.logger.find("warn", "closing connection: protocol error");
  assert.equal(lines.length, 1);
  assert.match(String(lines[0]!.fields.error), /frame of 4096 bytes exceeds maxMessageBytes 1024/);
  await assertServing(k, "after oversize");
  // A body of exactly the limit is fine.
  const big = await k.stub.Echo({ text: "x".repeat(900) });
  assert.equal(big.text.length, 900);
});

Deno.test("an oversize frame that is not a request (PING) is a protocol error", async () => {
  await using k = await startKitchen({ provider: { maxMessageBytes: 1024 } });
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.write(header(1025, 2));
  await raw.write(new Uint8Array([0x08, Kind.PING]));
  assert.equal(await raw.next(), null);
  const lines = k.logger.find("warn", "closing connection: protocol error");
  assert.equal(lines.length, 1);
  assert.match(String(lines[0]!.fields.error), /frame of 1025 bytes exceeds maxMessageBytes 1024/);
});

Deno.test("the provider answers PING with PONG carrying the same call id", async () => {
  await using k = await startKitchen();
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send({ kind: Kind.PING, callId: 4242 });
  const pong = await raw.next();
  assert.equal(pong?.meta.kind, Kind.PONG);
  assert.equal(pong?.meta.callId, 4242);
});

Deno.test("the provider's own deadline aborts the handler's signal with DEADLINE_EXCEEDED", async () => {
  await using k = await startKitchen();
  const sleep = sleepCall(k);
  await using raw = await FrameSocket.connect(k.provider.address.port);
  // A caller that sends a deadline but never cancels: only the provider's clock can fire.
  await raw.send(
    { kind: Kind.REQUEST, callId: 1, route: sleep.route, timeoutMs: 60 },
    sleep.request.encode({ ms: 5000, token: "raw-deadline" }),
  );
  const reason = await k.events.wait<RpcError>("aborted:raw-deadline");
  assert.equal(reason.code, Code.DEADLINE_EXCEEDED);
  const res = await raw.next();
  assert.equal(res?.meta.kind, Kind.RESPONSE);
  assert.equal(res?.meta.callId, 1);
  assert.deepEqual(sleep.response.decode(res!.payload), {
    token: "raw-deadline",
    aborted: true,
    reason: "DEADLINE_EXCEEDED",
  });
});

Deno.test("CANCEL aborts the handler with CANCELLED and no response is sent for that call", async () => {
  await using k = await startKitchen();
  const sleep = sleepCall(k);
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send(
    { kind: Kind.REQUEST, callId: 7, route: sleep.route },
    sleep.request.encode({ ms: 5000, token: "raw-cancel" }),
  );
  await k.events.wait("started:raw-cancel");
  await raw.send({ kind: Kind.CANCEL, callId: 7 });
  const reason = await k.events.wait<RpcError>("aborted:raw-cancel");
  assert.equal(reason.code, Code.CANCELLED);
  await k.events.wait("finished:raw-cancel");
  await raw.send({ kind: Kind.PING, callId: 8 });
  const next = await raw.next();
  assert.equal(next?.meta.kind, Kind.PONG, "the cancelled call got no response");
  assert.equal(k.provider.inflight, 0);
  // A CANCEL for an unknown call is ignored.
  await raw.send({ kind: Kind.CANCEL, callId: 999 });
  await raw.send({ kind: Kind.PING, callId: 9 });
  assert.equal((await raw.next())?.meta.callId, 9);
});

Deno.test("a raw request to an unknown route is answered UNIMPLEMENTED on the same connection", async () => {
  await using k = await startKitchen();
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send({ kind: Kind.REQUEST, callId: 3, route: encodeRoute("kitchen.Kitchen", "Nope") });
  const res = await raw.next();
  assert.equal(res?.meta.callId, 3);
  assert.equal(res?.meta.status, Code.UNIMPLEMENTED);
  assert.equal(res?.meta.errorMessage, 'unknown method "Nope" of service "kitchen.Kitchen"');
  await raw.send({ kind: Kind.PING, callId: 4 });
  assert.equal((await raw.next())?.meta.kind, Kind.PONG);
});

Deno.test("a duplicate call id while that call is in flight is a protocol error", async () => {
  await using k = await startKitchen();
  const sleep = sleepCall(k);
  await using raw = await FrameSocket.connect(k.provider.address.port);
  const payload = sleep.request.encode({ ms: 5000, token: "dup" });
  await raw.send({ kind: Kind.REQUEST, callId: 5, route: sleep.route }, payload);
  await k.events.wait("started:dup");
  await raw.send({ kind: Kind.REQUEST, callId: 5, route: sleep.route }, payload);
  assert.equal(await raw.next(), null);
  const line = await k.logger.waitFor("warn", "closing connection: protocol error");
  assert.match(String(line.fields.error), /duplicate call id 5/);
  // The first call's handler is aborted as its connection went away.
  assert.equal((await k.events.wait<RpcError>("aborted:dup")).code, Code.CANCELLED);
  await assertServing(k, "after duplicate id");
});

Deno.test("a frame kind a caller must not send (RESPONSE) is a protocol error", async () => {
  await using k = await startKitchen();
  await using raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send({ kind: Kind.RESPONSE, callId: 1 });
  assert.equal(await raw.next(), null);
  const line = await k.logger.waitFor("warn", "closing connection: protocol error");
  assert.match(String(line.fields.error), /unexpected frame kind 1 from a caller/);
});

Deno.test("a caller vanishing mid-call aborts the handler with CANCELLED", async () => {
  await using k = await startKitchen();
  const sleep = sleepCall(k);
  const raw = await FrameSocket.connect(k.provider.address.port);
  await raw.send(
    { kind: Kind.REQUEST, callId: 1, route: sleep.route },
    sleep.request.encode({ ms: 5000, token: "vanish" }),
  );
  await k.events.wait("started:vanish");
  raw.close();
  const reason = await k.events.wait<RpcError>("aborted:vanish");
  assert.equal(reason.code, Code.CANCELLED);
  assert.equal(reason.message, "connection closed");
});

Deno.test("maxInflightPerConnection answers RESOURCE_EXHAUSTED beyond the limit", async () => {
  await using k = await startKitchen({ provider: { maxInflightPerConnection: 2 } });
  const a = k.stub.Sleep({ ms: 100, token: "a" });
  const b = k.stub.Sleep({ ms: 100, token: "b" });
  await assert.rejects(k.stub.Sleep({ ms: 0, token: "c" }), (e: unknown) => {
    assert.equal((e as RpcError).code, Code.RESOURCE_EXHAUSTED);
    assert.match((e as RpcError).message, /limit 2/);
    return true;
  });
  await Promise.all([a, b]);
  await assertServing(k, "below the limit again");
});

Deno.test("maxConnections refuses a connection over the limit with RESOURCE_EXHAUSTED", async () => {
  await using k = await startKitchen({ provider: { maxConnections: 1 } });
  await assertServing(k, "first connection");
  await using raw = await FrameSocket.connect(k.provider.address.port);
  const goaway = await raw.next();
  assert.equal(goaway?.meta.kind, Kind.GOAWAY);
  assert.equal(goaway?.meta.status, Code.RESOURCE_EXHAUSTED);
  assert.match(goaway?.meta.errorMessage ?? "", /too many connections \(limit 1\)/);
  assert.equal(await raw.next(), null);
  await assertServing(k, "first connection still fine");
});

Deno.test("a meta with invalid UTF-8 is a protocol error, not a crash of the read loop", async () => {
  await using k = await startKitchen();
  await using raw = await FrameSocket.connect(k.provider.address.port);
  const meta = new Uint8Array([0x10, 0x01, 0x1a, 0x02, 0xff, 0xfe]); // call id 1, service: 0xff 0xfe
  const frame = new Uint8Array(HEADER_SIZE + meta.length);
  frame.set(header(meta.length, meta.length));
  frame.set(meta, HEADER_SIZE);
  await raw.write(frame);
  assert.equal(await raw.next(), null);
  const lines = k.logger.find("warn", "closing connection: protocol error");
  assert.equal(lines.length, 1, JSON.stringify(k.logger.lines));
  assert.deepEqual(k.logger.find("warn", "connection error"), []);
  await assertServing(k, "after bad UTF-8");
});

Deno.test("ctx.signal first read after the deadline has passed still aborts with DEADLINE_EXCEEDED", async () => {
  // The provider's deadline wheel has been idle (no timer) until the handler reads ctx.signal,
  // which happens only after the deadline: the entry must still fire.
  await using k = await startKitchen({
    impl: {
      async Sleep(req: { token: string }, ctx: CallContext) {
        await new Promise((r) => setTimeout(r, 80)); // past the 20 ms deadline, signal untouched
        const signal = ctx.signal;
        const aborted = await new Promise<boolean>((resolve) => {
          if (signal.aborted) return resolve(true);
          const timer = setTimeout(() => resolve(false), 1000);
          signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve(true);
          });
        });
        return {
          token: req.token,
          aborted,
          reason: (signal.reason as RpcError | undefined)?.codeName ?? "",
        };
      },
    },
  });
  const sleep = sleepCall(k);
  await using raw = await FrameSocket.connect(k.provider.address.port);
  const t0 = Date.now();
  await raw.send(
    { kind: Kind.REQUEST, callId: 1, route: sleep.route, timeoutMs: 20 },
    sleep.request.encode({ token: "late-reader" }),
  );
  const res = await raw.next();
  assert.deepEqual(sleep.response.decode(res!.payload), {
    token: "late-reader",
    aborted: true,
    reason: "DEADLINE_EXCEEDED",
  });
  assert.ok(Date.now() - t0 < 500, "aborted at once, not after the handler's 1 s fallback");
});
