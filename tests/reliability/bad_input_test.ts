/**
 * Bad configuration files and bad `.proto` files fail with errors that say where: file, line
 * and the key, field or type at fault. Hostile bytes on the wire close that one connection with
 * one log line (or fail that one call), never hang or stop a provider or a caller.
 */
import assert from "node:assert/strict";
import { OVERFLOWING_METADATA_FRAME } from "../_fixtures/hostile_vectors.ts";
import { ConfigError, loadConfig } from "../../config.ts";
import { loadProto, ProtoError } from "../../src/schema/load_proto.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { encodeRoute, Kind } from "../../src/wire/meta.ts";
import { callBounded } from "../_helpers/bounded_call.ts";
import { decodeBounded } from "../_helpers/bounded_decode.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { eventually } from "../_helpers/eventually.ts";
import { kitchenService, startKitchen } from "../_helpers/kitchen.ts";
import { spawnProvider } from "../_helpers/provider_process.ts";
import { closeQuietly, FrameSocket, readToEnd, startRawServer } from "../_helpers/raw_tcp.ts";

async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_bad_input_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function configError(path: string): Promise<ConfigError> {
  try {
    await loadConfig(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  throw new assert.AssertionError({ message: `${path} loaded without an error` });
}

async function protoError(path: string | string[]): Promise<ProtoError> {
  try {
    await loadProto(path);
  } catch (e) {
    assert.ok(e instanceof ProtoError, `expected a ProtoError, got ${e}`);
    return e;
  }
  throw new assert.AssertionError({ message: `${path} loaded without an error` });
}

Deno.test("a config line without '=' is reported with its file and line", async () => {
  await withFiles(
    { "a.conf": "# provider\nrpcserverip=127.0.0.1\nrpcserverport 8000\n" },
    async (d) => {
      const e = await configError(`${d}/a.conf`);
      assert.equal(e.file, `${d}/a.conf`);
      assert.equal(e.line, 3);
      assert.equal(e.message, `${d}/a.conf:3: missing "=" in "rpcserverport 8000"`);
    },
  );
});

Deno.test("a bad config value is reported with its file, line, key and value", async () => {
  const files = {
    "port.conf": "rpcserverip=127.0.0.1\n\nrpcserverport=99999 # too big\n",
    "level.conf": "loglevel=LOUD\r\n",
    "host.conf": "rpcserverip=not a host\n",
    "ms.conf": "timeoutms=-5\n",
  };
  await withFiles(files, async (d) => {
    const port = await configError(`${d}/port.conf`);
    assert.deepEqual([port.line, port.key], [3, "rpcserverport"]);
    assert.equal(port.message, `${d}/port.conf:3: rpcserverport: "99999" is not a port (1..65535)`);
    const level = await configError(`${d}/level.conf`);
    assert.deepEqual([level.line, level.key], [1, "loglevel"]);
    assert.match(level.message, /level\.conf:1: loglevel: "LOUD" is not a log level/);
    const host = await configError(`${d}/host.conf`);
    assert.deepEqual([host.line, host.key], [1, "rpcserverip"]);
    assert.match(host.message, /"not a host" is not a host name or IP address/);
    const ms = await configError(`${d}/ms.conf`);
    assert.deepEqual([ms.line, ms.key], [1, "timeoutms"]);
    assert.match(ms.message, /timeoutms: "-5" is not an integer/);
  });
});

Deno.test("a missing config file is reported by path", async () => {
  await withFiles({}, async (d) => {
    const e = await configError(`${d}/nope.conf`);
    assert.equal(e.file, `${d}/nope.conf`);
    assert.match(e.message, /cannot read config file ".*nope\.conf": no such file/);
  });
});

Deno.test("a .proto syntax error is reported with its file and line", async () => {
  const text = 'syntax = "proto3";\npackage p;\nmessage A {\n  string x = 1\n  int32 y = 2;\n}\n';
  await withFiles({ "syn.proto": text }, async (d) => {
    const e = await protoError(`${d}/syn.proto`);
    assert.equal(e.file, `${d}/syn.proto`);
    assert.match(e.message, /syn\.proto/);
    assert.match(e.message, /illegal token 'int32', ';' expected \(.*line 5\)/);
  });
});

Deno.test("a syntax error in an imported .proto names the imported file", async () => {
  await withFiles({
    "main.proto": 'syntax = "proto3";\npackage p;\nimport "dep.proto";\nmessage A { B b = 1; }\n',
    "dep.proto": 'syntax = "proto3";\npackage p;\nmessage B {\n  int32 g = 1\n}\n',
  }, async (d) => {
    const e = await protoError(`${d}/main.proto`);
    assert.equal(e.file, `${d}/dep.proto`);
    assert.match(e.message, /dep\.proto.*line 5/);
  });
});

Deno.test("an unknown type is reported with the file and the type's name", async () => {
  const text =
    'syntax = "proto3";\npackage p;\nmessage A {\n  string x = 1;\n  Missing y = 2;\n}\n' +
    "service S { rpc M(A) returns (Nope); }\n";
  await withFiles({ "unk.proto": text }, async (d) => {
    const e = await protoError(`${d}/unk.proto`);
    assert.equal(e.file, `${d}/unk.proto`);
    assert.match(e.message, /unk\.proto/);
    assert.match(e.message, /'Missing' in Type \.p\.A/);
  });
});

Deno.test("a missing import is reported with the path that was looked for", async () => {
  await withFiles({
    "imp.proto":
      'syntax = "proto3";\npackage p;\nimport "nothere.proto";\nmessage A { string x = 1; }\n',
  }, async (d) => {
    const e = await protoError(`${d}/imp.proto`);
    assert.equal(e.file, `${d}/nothere.proto`);
    assert.match(e.message, /Cannot read proto file .*nothere\.proto/);
  });
});

// Regression guard for a fixed bug (src/schema/load_proto.ts, loadProto → resolveAll(root, first)): an unresolved type
// in an imported file is reported against the FIRST file given, not the file that uses it.
// Fix: set `protobuf.parse.filename = file` in parseInto (protobufjs then stamps `.filename` on
// every type and field), and on a resolve failure report the failing object's `filename`
// (e.g. walk root.nestedArray for a field whose resolve() throws).
Deno.test("an unknown type in an imported .proto names the imported file", async () => {
  await withFiles({
    "main.proto": 'syntax = "proto3";\npackage p;\nimport "dep.proto";\nmessage A { B b = 1; }\n',
    "dep.proto": 'syntax = "proto3";\npackage p;\nmessage B {\n  Ghost g = 1;\n}\n',
  }, async (d) => {
    const e = await protoError(`${d}/main.proto`);
    assert.match(e.message, /'Ghost'/);
    assert.equal(e.file, `${d}/dep.proto`, `reported against ${e.file}: ${e.message}`);
  });
});

// ---- hostile bytes on the wire --------------------------------------------------------------

/** Whether the peer closes `conn` within `ms` (reading and dropping anything it sends). */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => closeQuietly(conn), ms);
  const started = Date.now();
  try {
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return Date.now() - started < ms;
    }
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the 22-byte overflowing metadata frame closes that connection with a log line and the provider serves other callers", async () => {
  // The provider runs in its own process, so a decoder that spins cannot hang this test: the
  // connection is then not closed and the other call misses its deadline.
  await using p = await spawnProvider({ name: "p1" });
  const bad = await Deno.connect({ hostname: "127.0.0.1", port: p.port });
  const badPeer = `127.0.0.1:${(bad.localAddr as Deno.NetAddr).port}`;
  try {
    await bad.write(OVERFLOWING_METADATA_FRAME);
    assert.ok(await closedWithin(bad, 10_000), "the provider did not close the connection");
  } finally {
    closeQuietly(bad);
  }
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({ address: p.address, logger, timeoutMs: 3000 });
  const stub = channel.stub(await kitchenService());
  const res = await stub.Echo!({ text: "still serving" }) as { text: string };
  assert.equal(res.text, "still serving");
  await eventually("the provider's log line", () => p.stderr().includes(badPeer), 3000);
  const lines = p.stderr().split("\n").filter((l) => l.includes(badPeer));
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /WARN closing connection: protocol error/);
  assert.match(lines[0]!, /metadata key of 4294967290 bytes overruns/);
});

Deno.test("the same 22 bytes from a hostile provider fail the call with a typed error, with one log line and no hang", async () => {
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    const ping = await s.next();
    await s.send({ kind: Kind.PONG, callId: ping!.meta.callId });
    await s.next(); // the request
    await s.write(OVERFLOWING_METADATA_FRAME);
    await readToEnd(conn); // until the caller hangs up
  });
  // The caller runs in a Worker, so a decoder that spins fails this bound instead of hanging.
  const out = await callBounded(server.port, 3000, 20_000);
  assert.equal(out.ok, false);
  assert.equal(out.errorName, "RpcError");
  assert.equal(out.code, Code.INTERNAL, out.message ?? "");
  assert.match(out.message!, /protocol error from 127\.0\.0\.1:\d+: metadata key of 4294967290/);
  assert.ok(out.ms < 3000, `the call took ${out.ms} ms: it waited for its deadline`);
  assert.deepEqual(out.warnings.map((w) => w.msg), ["closing connection: protocol error"]);
  assert.equal(out.warnings[0]!.fields.provider, `127.0.0.1:${server.port}`);
});

Deno.test("a frame with an out-of-range call id closes that connection with one log line", async () => {
  await using k = await startKitchen();
  const logger = k.logger;
  const metas: Array<[string, number[]]> = [
    ["call id 0", [0x10, 0x00]],
    ["call id 2^32", [0x10, 0x80, 0x80, 0x80, 0x80, 0x10]],
    ["call id in 6 bytes", [0x10, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00]],
  ];
  for (const [what, meta] of metas) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: k.provider.address.port });
    const peer = `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`;
    const frame = new Uint8Array(12 + meta.length);
    const v = new DataView(frame.buffer);
    v.setUint32(0, 0x4d525043);
    v.setUint32(4, meta.length);
    v.setUint32(8, meta.length);
    frame.set(meta, 12);
    try {
      await conn.write(frame);
      assert.ok(await closedWithin(conn, 3000), `${what}: not closed`);
    } finally {
      closeQuietly(conn);
    }
    await eventually("a log line", () => logger.problems.some((l) => l.fields.peer === peer), 3000);
    const mine = logger.problems.filter((l) => l.fields.peer === peer);
    assert.deepEqual(mine.map((l) => l.msg), ["closing connection: protocol error"], what);
    assert.match(String(mine[0]!.fields.error), /call id/, what);
  }
  assert.equal((await k.stub.Echo({ text: "ok" })).text, "ok");
});

Deno.test("hostile request payloads fail that call alone with INVALID_ARGUMENT", async () => {
  const payloads: Record<string, number[]> = {
    "a string length that overflows to a negative int32": [0x0a, 0xfa, 0xff, 0xff, 0xff, 0x0f],
    "an 11-byte varint": [0x18, ...new Array(10).fill(0xff), 0x01],
    "a length past the end": [0x0a, 0x7f, 0x61],
    "a nested message whose inner length lies": [0x62, 0x03, 0x0a, 0x10, 0x61],
    "a truncated map entry": [0x72, 0x05, 0x0a, 0x03, 0x61],
    "a group that never ends": [0x0b, 0x08, 0x01],
    "wire type 7": [0x0f],
  };
  // Bounded first: every payload decodes or throws, none loops.
  const outcomes = await decodeBounded(
    "kitchenEcho",
    Object.values(payloads).map((p) => new Uint8Array(p)),
  );
  for (const [i, what] of Object.keys(payloads).entries()) {
    assert.ok(outcomes[i]!.error !== undefined, `${what} decoded: ${JSON.stringify(outcomes[i])}`);
  }
  await using k = await startKitchen();
  await using s = await FrameSocket.connect(k.provider.address.port);
  const route = encodeRoute("kitchen.Kitchen", "Echo");
  let id = 1;
  for (const p of Object.values(payloads)) {
    await s.send({ kind: Kind.REQUEST, callId: id++, route }, new Uint8Array(p));
  }
  await s.send({ kind: Kind.PING, callId: 77 });
  const answers = new Map<number, number>();
  for (;;) {
    const f = await s.next();
    assert.ok(f !== null, "the provider closed the connection");
    if (f.meta.kind === Kind.PONG) break;
    answers.set(f.meta.callId, f.meta.status);
  }
  for (const [i, what] of Object.keys(payloads).entries()) {
    assert.equal(answers.get(i + 1), Code.INVALID_ARGUMENT, what);
  }
  // The same connection still serves a good call.
  await s.send({ kind: Kind.REQUEST, callId: 100, route }, new Uint8Array([0x0a, 0x01, 0x61]));
  const good = await s.next();
  assert.deepEqual([good?.meta.callId, good?.meta.status], [100, 0]);
});

Deno.test("a hostile response payload fails that call alone with INTERNAL", async () => {
  await using server = startRawServer(async (conn) => {
    const s = new FrameSocket(conn);
    for (;;) {
      const f = await s.next(10_000);
      if (f === null) return;
      if (f.meta.kind === Kind.PING) {
        await s.send({ kind: Kind.PONG, callId: f.meta.callId });
      } else if (f.meta.kind === Kind.REQUEST) {
        // The first call gets a payload whose string length overflows; the next a good one.
        const bad = f.meta.callId === 1;
        await s.send(
          { kind: Kind.RESPONSE, callId: f.meta.callId },
          new Uint8Array(bad ? [0x0a, 0xfa, 0xff, 0xff, 0xff, 0x0f] : [0x0a, 0x02, 0x6f, 0x6b]),
        );
      }
    }
  });
  const logger = new CaptureLogger();
  await using channel = new RpcChannel({
    address: `127.0.0.1:${server.port}`,
    logger,
    timeoutMs: 3000,
    keepaliveMs: 0,
  });
  const stub = channel.stub(await kitchenService());
  await assert.rejects(stub.Echo!({ text: "x" }), (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.code, Code.INTERNAL, e.message);
    assert.match(e.message, /cannot decode response/);
    return true;
  });
  // The connection was not closed for it: the next call on it succeeds.
  assert.equal((await stub.Echo!({ text: "y" }) as { text: string }).text, "ok");
  assert.deepEqual(logger.problems, []);
});
