import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import { SpanKind, SpanStatusCode } from "../../src/deps.ts";
import { STATUS_CODE_ATTRIBUTE, tracingEnabled } from "../../src/observe/tracing.ts";
import { echoImpl, echoService, type Msg } from "../_helpers/echo_service.ts";
import { MemoryTracing, type ReadableSpan } from "../_helpers/otel_sdk.ts";

type EchoStub = Record<"Say" | "Fail" | "Slow", StubMethod<Msg, Msg>>;

function parentId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function only(spans: ReadableSpan[], kind: SpanKind, method: string): ReadableSpan {
  const found = spans.filter((s) => s.kind === kind && s.attributes["rpc.method"] === method);
  assert.equal(found.length, 1, `${found.length} ${SpanKind[kind]} spans of ${method}`);
  return found[0]!;
}

Deno.test("a call makes a client span and a server span of one trace, linked by traceparent", async () => {
  await using tracing = new MemoryTracing();
  assert.ok(tracingEnabled());
  let seen: string | undefined;
  await using provider = new RpcProvider().notifyService(echoService, {
    ...echoImpl,
    Say: (req: Msg, ctx) => {
      seen = ctx.metadata["traceparent"];
      return req;
    },
  });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  await channel.stub<EchoStub>(echoService).Say({ text: "hi" }, { metadata: { user: "ann" } });
  const spans = tracing.spans();
  const client = only(spans, SpanKind.CLIENT, "Say");
  const server = only(spans, SpanKind.SERVER, "Say");
  assert.equal(client.name, "obs.Echo/Say");
  assert.equal(server.name, "obs.Echo/Say");
  const c = client.spanContext();
  assert.equal(seen, `00-${c.traceId}-${c.spanId}-01`);
  assert.equal(server.spanContext().traceId, c.traceId);
  assert.equal(parentId(server), c.spanId);
  for (const s of [client, server]) {
    assert.equal(s.attributes["rpc.system"], "mprpc");
    assert.equal(s.attributes["rpc.service"], "obs.Echo");
    assert.equal(s.attributes[STATUS_CODE_ATTRIBUTE], Code.OK);
    assert.equal(s.status.code, SpanStatusCode.UNSET);
  }
  assert.equal(client.attributes["server.address"], "127.0.0.1");
  assert.equal(client.attributes["server.port"], provider.address.port);
  assert.equal(server.attributes["network.peer.address"], "127.0.0.1");
});

Deno.test("calls a handler makes continue its trace: caller → provider → provider", async () => {
  await using tracing = new MemoryTracing();
  await using back = new RpcProvider().notifyService(echoService, echoImpl);
  await back.start();
  await using backChannel = new RpcChannel({ address: back.address });
  const backStub = backChannel.stub<EchoStub>(echoService);
  await using front = new RpcProvider().notifyService(echoService, {
    ...echoImpl,
    // Awaits first, so the nested call runs in a later turn of the event loop.
    Say: async (req: Msg) => {
      await new Promise((r) => setTimeout(r, 5));
      return await backStub.Say(req);
    },
  });
  await front.start();
  await using channel = new RpcChannel({ address: front.address });
  await channel.stub<EchoStub>(echoService).Say({ text: "chain" });
  const spans = tracing.spans();
  assert.equal(spans.length, 4);
  const childOf = (kind: SpanKind, parent: ReadableSpan | undefined) =>
    spans.find((s) => s.kind === kind && parentId(s) === parent?.spanContext().spanId);
  const first = spans.find((s) => s.kind === SpanKind.CLIENT && parentId(s) === undefined);
  const served = childOf(SpanKind.SERVER, first);
  const nested = childOf(SpanKind.CLIENT, served);
  const end = childOf(SpanKind.SERVER, nested);
  assert.ok(first && served && nested && end, "caller → front → its call → back");
  const traceId = first.spanContext().traceId;
  for (const s of spans) assert.equal(s.spanContext().traceId, traceId);
  assert.equal(nested.attributes["server.port"], back.address.port);
});

Deno.test("the span status follows the RPC code", async () => {
  await using tracing = new MemoryTracing();
  await using provider = new RpcProvider().notifyService(echoService, echoImpl);
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  const stub = channel.stub<EchoStub>(echoService);
  await assert.rejects(stub.Fail({ code: Code.NOT_FOUND }), RpcError);
  let spans = tracing.spans();
  const client = only(spans, SpanKind.CLIENT, "Fail");
  assert.equal(client.attributes[STATUS_CODE_ATTRIBUTE], Code.NOT_FOUND);
  assert.equal(client.status.code, SpanStatusCode.ERROR);
  assert.equal(client.status.message, "failed with 5");
  const server = only(spans, SpanKind.SERVER, "Fail");
  assert.equal(server.attributes[STATUS_CODE_ATTRIBUTE], Code.NOT_FOUND);
  assert.equal(server.status.code, SpanStatusCode.UNSET, "the caller's mistake, not the server's");
  tracing.exporter.reset();
  await assert.rejects(stub.Fail({ code: Code.INTERNAL }), RpcError);
  spans = tracing.spans();
  assert.equal(only(spans, SpanKind.SERVER, "Fail").status.code, SpanStatusCode.ERROR);
});

Deno.test("a call that never reaches a provider still ends its client span", async () => {
  await using tracing = new MemoryTracing();
  using closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  await using channel = new RpcChannel({ address: { host: "127.0.0.1", port } });
  await assert.rejects(channel.stub<EchoStub>(echoService).Say({}), RpcError);
  const client = only(tracing.spans(), SpanKind.CLIENT, "Say");
  assert.equal(client.attributes[STATUS_CODE_ATTRIBUTE], Code.UNAVAILABLE);
});
