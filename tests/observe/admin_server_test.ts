import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code } from "../../src/errors.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import type { RecentCall } from "../../src/observe/recent_calls.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { echoImpl, echoService, type Msg } from "../_helpers/echo_service.ts";
import { eventually } from "../_helpers/eventually.ts";
import { streamImpl, streamService, type StreamsStub } from "../_helpers/stream_service.ts";
import type { MethodMetricsSnapshot } from "../../src/observe/metrics.ts";

type EchoStub = Record<"Say" | "Fail" | "Slow", StubMethod<Msg, Msg>>;

async function get(port: number, path: string): Promise<Response> {
  return await fetch(`http://127.0.0.1:${port}${path}`);
}

Deno.test("the admin listener is off unless asked for", async () => {
  await using provider = new RpcProvider().notifyService(echoService, echoImpl);
  await provider.start();
  assert.equal(provider.adminAddress, undefined);
});

Deno.test("GET /metrics answers Prometheus text with the provider's calls", async () => {
  await using provider = new RpcProvider({ admin: { host: "127.0.0.1", port: 0 } })
    .notifyService(echoService, echoImpl);
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  const stub = channel.stub<EchoStub>(echoService);
  for (let i = 0; i < 3; i++) await stub.Say({ text: "hi" });
  await assert.rejects(stub.Fail({ code: Code.INVALID_ARGUMENT }));
  const res = await get(provider.adminAddress!.port, "/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const l = 'service="obs.Echo",method="Say"';
  assert.ok(text.includes(`mprpc_server_calls_total{${l},code="OK"} 3`), text);
  assert.ok(
    text.includes(
      'mprpc_server_calls_total{service="obs.Echo",method="Fail",code="INVALID_ARGUMENT"} 1',
    ),
  );
  // The timed calls (calls within one millisecond are timed once): +Inf holds them all.
  const timed = new RegExp(`mprpc_server_call_duration_seconds_count\\{${l}\\} ([123])\n`)
    .exec(text)?.[1];
  assert.ok(timed, text);
  assert.ok(text.includes(`mprpc_server_call_duration_seconds_bucket{${l},le="+Inf"} ${timed}\n`));
  assert.ok(text.includes(`mprpc_server_calls_in_flight{${l}} 0`));
  assert.ok(text.includes(`mprpc_server_request_bytes_total{${l}} 12`));
  assert.ok(text.includes("mprpc_server_connections 1"));
  assert.ok(text.includes("# TYPE mprpc_server_call_duration_seconds histogram"));
  // Every sample line is `name{labels} value` or `name value`.
  for (const line of text.trim().split("\n")) {
    if (!line.startsWith("#")) assert.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/, line);
  }
});

Deno.test("/rpcz lists failed and slow calls with their metadata, newest first", async () => {
  await using provider = new RpcProvider({ admin: { port: 0 }, slowCallMs: 100 })
    .notifyService(echoService, echoImpl);
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  const stub = channel.stub<EchoStub>(echoService);
  await stub.Say({ text: "fast" });
  await assert.rejects(stub.Fail({ code: Code.UNAVAILABLE }, { metadata: { user: "ann" } }));
  await stub.Slow({ waitMs: 150 }, { metadata: { user: "bob" } });
  const port = provider.adminAddress!.port;
  const { calls } = await (await get(port, "/rpcz.json")).json() as { calls: RecentCall[] };
  assert.deepEqual(calls.map((c) => [c.method, c.code, c.metadata?.["user"]]), [
    ["Slow", 0, "bob"],
    ["Fail", Code.UNAVAILABLE, "ann"],
  ]);
  assert.ok(calls[0]!.ms >= 100);
  assert.equal(calls[1]!.error, "failed with 14");
  assert.deepEqual(calls.map((c) => c.loop), [0, 0], "a provider without workers: the main loop");
  const html = await (await get(port, "/rpcz")).text();
  assert.ok(html.includes("obs.Echo/Fail") && html.includes("UNAVAILABLE"));
  assert.equal(
    html.match(/<tr data-code="\d+" data-loop="0"><td>[^<]*<\/td><td>server<\/td><td>main<\/td>/g)
      ?.length,
    2,
    html,
  );
  assert.ok(html.includes("&#34;user&#34;:&#34;ann&#34;"), "metadata is escaped");
});

Deno.test("/ serves the self-contained console page; unknown paths 404, POST 405", async () => {
  await using provider = new RpcProvider({ admin: { port: 0 } });
  await provider.start();
  const port = provider.adminAddress!.port;
  const page = await get(port, "/");
  assert.match(page.headers.get("content-type")!, /^text\/html/);
  const html = await page.text();
  assert.ok(html.includes("mprpc console"));
  assert.doesNotMatch(html, /<script src|<link |https?:\/\/(?!www\.w3\.org)/);
  const missing = await get(port, "/nope");
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
  const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("/metrics.json and /registry.json give the page its data", async () => {
  const registry = new StaticRegistry();
  await using provider = new RpcProvider({ admin: { port: 0 }, registry })
    .notifyService(echoService, echoImpl);
  await provider.start();
  const port = provider.adminAddress!.port;
  const j = await (await get(port, "/metrics.json")).json();
  assert.equal(j.provider.address, `127.0.0.1:${provider.address.port}`);
  assert.deepEqual(j.provider.services, ["obs.Echo"]);
  assert.equal(j.bucketsSeconds.length + 1, 20);
  assert.equal(j.metrics.side, "server");
  const r = await (await get(port, "/registry.json")).json();
  assert.deepEqual(
    r.registry.services.map((s: { service: string; providers: { port: number }[] }) => [
      s.service,
      s.providers.map((p) => p.port),
    ]),
    [["obs.Echo", [provider.address.port]]],
  );
  await registry.close();
});

Deno.test("a taken admin port fails start() and releases the provider's port", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const provider = new RpcProvider({ admin: { port: taken.addr.port } });
  await assert.rejects(provider.start(), Deno.errors.AddrInUse);
  await provider.close();
});

Deno.test("an admin port out of range is a RangeError", async () => {
  const provider = new RpcProvider({ admin: { port: 70000 } });
  await assert.rejects(provider.start(), RangeError);
  await provider.close();
});

Deno.test("an admin listener that cannot bind fails start() and closes the RPC listener it opened", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const rpcPort = free.addr.port;
  free.close();
  const provider = new RpcProvider({
    host: "127.0.0.1",
    port: rpcPort,
    admin: { host: "127.0.0.1", port: taken.addr.port },
    logger: new CaptureLogger(),
  }).notifyService(echoService, echoImpl);
  try {
    await assert.rejects(provider.start(), Deno.errors.AddrInUse);
    // start() failed: the RPC port it had opened is closed again, before anyone calls close().
    await assert.rejects(
      Deno.connect({ hostname: "127.0.0.1", port: rpcPort }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    await provider.close();
  }
});

Deno.test("/metrics and /metrics.json carry the message counts of a server stream and a bidirectional stream", async () => {
  await using provider = new RpcProvider({ admin: { port: 0 } })
    .notifyService(streamService, streamImpl);
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  const stub = channel.stub<StreamsStub>(streamService);
  const counted: number[] = [];
  for await (const t of stub.Count({ n: 3 })) counted.push(t.n ?? 0);
  assert.deepEqual(counted, [1, 2, 3]);
  const chatted: number[] = [];
  for await (const t of stub.Chat([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }])) chatted.push(t.n ?? 0);
  assert.deepEqual(chatted, [1, 2, 3, 4]);
  const port = provider.adminAddress!.port;

  // The provider counts a stream when it ends, which may be just after the caller saw its end.
  const methods = await eventually(
    "both streams counted in /metrics.json",
    async () => {
      const j = await (await get(port, "/metrics.json")).json();
      const ms = j.metrics.methods as MethodMetricsSnapshot[];
      const ok = (name: string) => ms.find((m) => m.method === name)?.calls["OK"] === 1;
      return ok("Count") && ok("Chat") ? ms : undefined;
    },
    10_000,
    20,
  );
  const streams = (name: string) => {
    const m = methods.find((x) => x.service === "obs.Streams" && x.method === name)!;
    return { inflight: m.inflight, messages: m.messages };
  };
  assert.deepEqual(streams("Count"), { inflight: 0, messages: { sent: 3, received: 1 } });
  assert.deepEqual(streams("Chat"), { inflight: 0, messages: { sent: 4, received: 4 } });

  const text = await (await get(port, "/metrics")).text();
  const lines = text.split("\n");
  const count = 'service="obs.Streams",method="Count"';
  const chat = 'service="obs.Streams",method="Chat"';
  for (
    const line of [
      "# TYPE mprpc_server_stream_messages_sent_total counter",
      "# TYPE mprpc_server_stream_messages_received_total counter",
      `mprpc_server_stream_messages_sent_total{${count}} 3`,
      `mprpc_server_stream_messages_received_total{${count}} 1`,
      `mprpc_server_stream_messages_sent_total{${chat}} 4`,
      `mprpc_server_stream_messages_received_total{${chat}} 4`,
      `mprpc_server_calls_in_flight{${count}} 0`,
      `mprpc_server_calls_total{${chat},code="OK"} 1`,
    ]
  ) {
    assert.ok(lines.includes(line), `${line} missing from:\n${text}`);
  }
});
