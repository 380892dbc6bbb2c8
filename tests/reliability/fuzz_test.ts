/**
 * A short, fixed-seed run of the protocol fuzzer (src/testing/_fuzz/) against an in-process
 * kitchen provider (the long run is `deno task fuzz`).
 */
import assert from "node:assert/strict";
import { runFuzz } from "../../src/testing/_fuzz/run.ts";
import { runDecoderFuzz } from "../../src/testing/_fuzz/decoders.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, startKitchen } from "../_helpers/kitchen.ts";
import { startRawServer } from "../_helpers/raw_tcp.ts";

const MAX_MESSAGE_BYTES = 64 * 1024;
const READ_TIMEOUT_MS = 200;

Deno.test("fuzz: a provider survives malformed frames and a caller survives a malicious provider", async () => {
  await using k = await startKitchen({
    provider: { maxMessageBytes: MAX_MESSAGE_BYTES, readTimeoutMs: READ_TIMEOUT_MS },
  });
  const report = await runFuzz({
    seed: 20240611,
    durationMs: 3000,
    connect: k.provider.address,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    readTimeoutMs: READ_TIMEOUT_MS,
    // SleepRequest { ms: 1000 }: stays in flight, so a second request with its id is a duplicate.
    slowCall: {
      service: "kitchen.Kitchen",
      method: "Sleep",
      payload: new Uint8Array([0x08, 0xe8, 0x07]),
    },
    logLines: () => k.logger.lines,
    // RSS is the whole process's: other test files run in it too under --parallel.
    maxRssGrowthBytes: 256 * 1024 * 1024,
  });
  console.log(
    `fuzz: ${report.cases} cases (${report.probes} liveness probes) in ${report.durationMs} ms, ` +
      `RSS +${(report.rssGrowthBytes / 1048576).toFixed(1)} MiB, heap +${
        (report.heapGrowthBytes / 1048576).toFixed(1)
      } MiB; outcomes ${JSON.stringify(report.outcomes)}`,
  );
  assert.deepEqual(report.failures, []);
  assert.ok(report.cases >= 200, `only ${report.cases} cases ran`);
  const providerCases = Object.entries(report.byKind)
    .filter(([kind]) => !kind.startsWith("caller_"))
    .reduce((a, [, n]) => a + n, 0);
  assert.equal(report.probes, providerCases, "a probe answered after every provider-side case");
  for (
    const kind of [
      "random_bytes",
      "huge_length",
      "over_max",
      "bad_meta",
      "unknown_kind",
      "hostile_meta",
      "overflowing_entry",
    ]
  ) {
    assert.ok((report.byKind[kind] ?? 0) > 0, `no ${kind} case ran`);
  }
  assert.ok((report.byKind.caller_request ?? 0) > 0, "no REQUEST frame was sent to a caller");
  // Every fuzz connection is gone from the provider (none leaked half-open).
  for (let i = 0; i < 100 && k.provider.connectionCount > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(k.provider.connectionCount, 0);
  // The provider still serves a real call through a channel.
  const res = await k.stub.Echo({ text: "after the storm" });
  assert.equal(res.text, "after the storm");
});

Deno.test("fuzz: every hostile input to the decoders finishes, rejected with a typed error or decoded in range", async () => {
  // In a Worker under a watchdog: a decode that does not finish is a reported hang, not a hung
  // suite.
  const report = await runDecoderFuzz({ seed: 20261202, cases: 10_000 });
  console.log(
    `decoder fuzz: ${report.cases} inputs in ${report.durationMs} ms, ` +
      `kinds ${JSON.stringify(report.byKind)}`,
  );
  assert.deepEqual(report.failures, []);
  assert.equal(report.hangs, 0);
  assert.equal(report.cases, 10_000);
  for (
    const kind of [
      "meta_hostile",
      "meta_mutated",
      "frame_stream",
      "legacy_header",
      "legacy_stream",
      "payload",
    ]
  ) {
    assert.ok((report.byKind[kind] ?? 0) > 0, `no ${kind} input ran`);
  }
});

Deno.test("fuzz: a provider serving the legacy protocol on the same port survives the same input", async () => {
  // With `legacy`, bytes that are not the native magic are parsed as a C++ mprpc request, so the
  // provider-side cases take the other decoder (and its own limits) as well.
  await using k = await startKitchen({
    provider: { maxMessageBytes: MAX_MESSAGE_BYTES, readTimeoutMs: READ_TIMEOUT_MS, legacy: true },
  });
  const report = await runFuzz({
    seed: 77,
    durationMs: 1500,
    connect: k.provider.address,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    readTimeoutMs: READ_TIMEOUT_MS,
    logLines: () => k.logger.lines,
    callerCases: false,
    maxRssGrowthBytes: 256 * 1024 * 1024,
  });
  console.log(
    `fuzz (legacy on): ${report.cases} cases, outcomes ${JSON.stringify(report.outcomes)}`,
  );
  assert.deepEqual(report.failures, []);
  assert.ok(report.cases >= 100, `only ${report.cases} cases ran`);
  assert.equal(report.probes, report.cases);
  assert.ok(k.logger.find("warn", "legacy").length > 0, "no input reached the legacy decoder");
  assert.equal((await k.stub.Echo({ text: "legacy ok" })).text, "legacy ok");
});

// Found by this fuzzer: invalid UTF-8 in a meta string used to escape as a TypeError from
// TextDecoder instead of a FrameError, so the caller saw a plain close (UNAVAILABLE, which
// retries treat as safe to resend) and logged nothing. Fixed in src/wire/meta.ts (f51bda2).
Deno.test("a provider answering with invalid UTF-8 in its meta is a protocol error for the caller", async () => {
  const bad = new Uint8Array([0x1a, 0x02, 0xff, 0xfe]); // service = bytes ff fe
  const frame = new Uint8Array(12 + bad.length);
  const view = new DataView(frame.buffer);
  view.setUint32(0, 0x4d525043);
  view.setUint32(4, bad.length);
  view.setUint32(8, bad.length);
  frame.set(bad, 12);
  await using server = startRawServer(async (conn) => {
    await conn.read(new Uint8Array(4096)); // the request
    await conn.write(frame);
    await conn.read(new Uint8Array(4096)); // until the caller hangs up
  });
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({
    address: `127.0.0.1:${server.port}`,
    logger,
    timeoutMs: 2000,
  });
  await assert.rejects(channel.stub(await kitchenService()).Echo!({ text: "x" }), (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.code, Code.INTERNAL, `${e.code}: ${e.message}`);
    return true;
  });
  assert.equal(logger.find("warn", "closing connection: protocol error").length, 1);
});
