/**
 * Spans of streaming calls, and the provider a registry channel picked on its client spans,
 * checked with the OpenTelemetry SDK's in-memory exporter over real sockets.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { parseProto } from "../../src/schema/load_proto.ts";
import { SpanKind, SpanStatusCode, trace } from "../../src/deps.ts";
import { STATUS_CODE_ATTRIBUTE } from "../../src/observe/tracing.ts";
import {
  MESSAGES_RECEIVED_ATTRIBUTE,
  MESSAGES_SENT_ATTRIBUTE,
} from "../../src/observe/stream_record.ts";
import { MemoryTracing, type ReadableSpan } from "../_helpers/otel_sdk.ts";
import { eventually } from "../_helpers/eventually.ts";

const root = parseProto(`syntax = "proto3"; package obs;
  message N { int32 n = 1; }
  service Ticks {
    rpc Count(N) returns (stream N);
    rpc Say(N) returns (N);
  }`);
const service = root.lookupService("obs.Ticks");

interface TicksStub {
  Count(req: { n: number }): AsyncIterable<{ n: number }>;
  Say(req: { n: number }): Promise<{ n: number }>;
}

function spansOf(tracing: MemoryTracing, kind: SpanKind, method: string): ReadableSpan[] {
  return tracing.spans().filter((s) => s.kind === kind && s.attributes["rpc.method"] === method);
}

Deno.test("a server stream's spans cover the whole stream and end after its last message", async () => {
  await using tracing = new MemoryTracing();
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let activeInHandler: string | undefined;
  await using provider = new RpcProvider().notifyService(service, {
    async *Count(req: { n: number }) {
      for (let i = 1; i <= req.n; i++) yield { n: i };
      await gate; // the stream stays open after its last message until the test says so
      activeInHandler = trace.getActiveSpan()?.spanContext().spanId;
    },
  });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  const got: number[] = [];
  for await (const m of channel.stub<TicksStub>(service).Count({ n: 3 })) {
    got.push(m.n);
    if (m.n === 3) {
      // Every message is out, the generator was made long ago: no span may have ended yet.
      assert.deepEqual(tracing.spans().map((s) => s.name), []);
      release();
    }
  }
  assert.deepEqual(got, [1, 2, 3]);
  await eventually("the server span", () => spansOf(tracing, SpanKind.SERVER, "Count").length);
  const [server] = spansOf(tracing, SpanKind.SERVER, "Count");
  const [client] = spansOf(tracing, SpanKind.CLIENT, "Count");
  assert.ok(server && client);
  assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
  assert.equal(activeInHandler, server.spanContext().spanId, "the handler runs in its span");
  for (const s of [server, client]) {
    assert.equal(s.name, "obs.Ticks/Count");
    assert.equal(s.attributes[STATUS_CODE_ATTRIBUTE], Code.OK);
    assert.equal(s.status.code, SpanStatusCode.UNSET);
  }
  assert.deepEqual(
    [server.attributes[MESSAGES_SENT_ATTRIBUTE], server.attributes[MESSAGES_RECEIVED_ATTRIBUTE]],
    [3, 1],
  );
  assert.deepEqual(
    [client.attributes[MESSAGES_SENT_ATTRIBUTE], client.attributes[MESSAGES_RECEIVED_ATTRIBUTE]],
    [1, 3],
  );
  assert.equal(client.attributes["server.port"], provider.address.port);
});

Deno.test("a stream that fails after its messages ends both spans with that status", async () => {
  await using tracing = new MemoryTracing();
  await using provider = new RpcProvider().notifyService(service, {
    async *Count() {
      yield { n: 1 };
      yield { n: 2 };
      throw new RpcError(Code.UNAVAILABLE, "backend gone");
    },
  });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  const got: number[] = [];
  await assert.rejects(async () => {
    for await (const m of channel.stub<TicksStub>(service).Count({ n: 0 })) got.push(m.n);
  }, (e) => e instanceof RpcError && e.code === Code.UNAVAILABLE);
  assert.deepEqual(got, [1, 2]);
  await eventually("both spans", () => tracing.spans().length === 2);
  for (const kind of [SpanKind.SERVER, SpanKind.CLIENT]) {
    const [s] = spansOf(tracing, kind, "Count");
    assert.ok(s, SpanKind[kind]);
    assert.equal(s.attributes[STATUS_CODE_ATTRIBUTE], Code.UNAVAILABLE);
    assert.deepEqual(s.status, { code: SpanStatusCode.ERROR, message: "backend gone" });
  }
});

Deno.test("a channel with a registry puts the provider it picked on its client spans", async () => {
  await using tracing = new MemoryTracing();
  const registry = new StaticRegistry();
  await using _registry = { [Symbol.asyncDispose]: () => registry.close() };
  await using provider = new RpcProvider({ registry }).notifyService(service, {
    Say: (req: { n: number }) => req,
    async *Count(req: { n: number }) {
      for (let i = 1; i <= req.n; i++) yield { n: i };
    },
  });
  await provider.start();
  await using channel = new RpcChannel({ registry });
  const stub = channel.stub<TicksStub>(service);
  await stub.Say({ n: 1 }); // resolves, connects: the slow path
  await stub.Say({ n: 2 }); // connected: the fast path
  for await (const _ of stub.Count({ n: 1 })) {
    // drain
  }
  const clients = tracing.spans().filter((s) => s.kind === SpanKind.CLIENT);
  assert.equal(clients.length, 3);
  for (const s of clients) {
    assert.equal(s.attributes["server.address"], provider.address.host, s.name);
    assert.equal(s.attributes["server.port"], provider.address.port, s.name);
  }
});
