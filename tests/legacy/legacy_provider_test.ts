import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import type { LogFields, Logger } from "../../src/log/logger.ts";
import type { ServiceRegistration } from "../../src/registry/registry.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { loadProto, parseProto } from "../../src/schema/load_proto.ts";
import { RpcProvider, type RpcProviderOptions } from "../../src/server/rpc_provider.ts";
import { encodeLegacyRequest } from "../../src/legacy/legacy_codec.ts";
import {
  hex,
  LOGIN_REPLY,
  LOGIN_REQUEST,
  REGISTER_REPLY,
  REGISTER_REQUEST,
} from "../_fixtures/legacy_vectors.ts";

const td = new TextDecoder();
const te = new TextEncoder();
const user = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
const UserService = user.lookupService("fixbug.UserServiceRpc");

/** Keeps every log line; `problems` are the ones at WARN and above. */
class Capture implements Logger {
  lines: Array<{ level: string; msg: string; fields: LogFields }> = [];
  debug(msg: string, fields: LogFields = {}) {
    this.lines.push({ level: "debug", msg, fields });
  }
  info(msg: string, fields: LogFields = {}) {
    this.lines.push({ level: "info", msg, fields });
  }
  warn(msg: string, fields: LogFields = {}) {
    this.lines.push({ level: "warn", msg, fields });
  }
  error(msg: string, fields: LogFields = {}) {
    this.lines.push({ level: "error", msg, fields });
  }
  critical(msg: string, fields: LogFields = {}) {
    this.lines.push({ level: "critical", msg, fields });
  }
  get problems() {
    return this.lines.filter((l) => l.level !== "debug" && l.level !== "info");
  }
}

interface Seen {
  logins: Array<{ name: string; pwd: string; service: string; peer: string }>;
}

/** A provider of the original's UserServiceRpc, answering as the original's example does. */
async function startUserProvider(options: RpcProviderOptions = {}) {
  const logger = new Capture();
  const seen: Seen = { logins: [] };
  const provider = new RpcProvider({ legacy: true, logger, ...options });
  provider.notifyService(UserService, {
    Login: (req, ctx) => {
      seen.logins.push({
        name: td.decode(req.name),
        pwd: td.decode(req.pwd),
        service: ctx.service,
        peer: ctx.peer.host,
      });
      return { result: { errcode: 0, errmsg: new Uint8Array() }, success: false };
    },
    Register: (req) => {
      if (req.id === 0) throw new RpcError(Code.INVALID_ARGUMENT, "id 0 is reserved");
      if (req.id === 1) throw new Error("database down");
      return { result: { errcode: 0 }, success: true };
    },
  });
  await provider.start();
  return { provider, logger, seen, port: provider.address.port };
}

/** Writes `bytes` (one write, or one write per byte), then reads until the provider closes. */
async function rawCall(port: number, bytes: Uint8Array, split = false): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    if (split) {
      for (let i = 0; i < bytes.length; i++) {
        await conn.write(bytes.subarray(i, i + 1));
        // Let each byte leave on its own; pause inside the 4 sniffed bytes and the header.
        await new Promise((r) => setTimeout(r, i === 1 || i === 9 ? 20 : 0));
      }
    } else {
      await conn.write(bytes);
    }
    const parts: number[] = [];
    const buf = new Uint8Array(4096);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break; // a reset counts as closed
      }
      if (n === null) break;
      parts.push(...buf.subarray(0, n));
    }
    return new Uint8Array(parts);
  } finally {
    conn.close();
  }
}

/** Waits until `cond()` holds (polling), or fails after 2 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 2000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function nativeLogin(port: number) {
  await using channel = new RpcChannel({ address: { host: "127.0.0.1", port }, timeoutMs: 2000 });
  return await channel.stub(UserService).Login!({ name: te.encode("bob"), pwd: te.encode("x") });
}

Deno.test("a legacy Login gets exactly the original's reply bytes, then EOF", async () => {
  const { provider, seen, logger, port } = await startUserProvider();
  try {
    assert.deepEqual(await rawCall(port, LOGIN_REQUEST), LOGIN_REPLY);
    assert.deepEqual(seen.logins, [{
      name: "alice",
      pwd: "s3cret",
      service: "fixbug.UserServiceRpc",
      peer: "127.0.0.1",
    }]);
    assert.deepEqual(await rawCall(port, REGISTER_REQUEST), REGISTER_REPLY);
    assert.deepEqual(logger.problems, []);
  } finally {
    await provider.close();
  }
});

Deno.test("a legacy request split into 1-byte writes is answered the same", async () => {
  const { provider, logger, port } = await startUserProvider();
  try {
    assert.deepEqual(await rawCall(port, LOGIN_REQUEST, true), LOGIN_REPLY);
    assert.deepEqual(await rawCall(port, REGISTER_REQUEST, true), REGISTER_REPLY);
    assert.deepEqual(logger.problems, []);
  } finally {
    await provider.close();
  }
});

const malformed: Array<[string, Uint8Array, RegExp]> = [
  ["huge header size", hex("ffffff7f 0a0e"), /header size 2147483647 is out of range/],
  ["zero header size", hex("00000000"), /header size 0 is out of range/],
  [
    "unknown service",
    encodeLegacyRequest("NoSuchService", "Login", new Uint8Array()),
    /unknown legacy service "NoSuchService"/,
  ],
  [
    "unknown method",
    encodeLegacyRequest("UserServiceRpc", "Logout", new Uint8Array()),
    /unknown method "Logout" of service "fixbug.UserServiceRpc"/,
  ],
  ["garbage header", hex("08000000 ffffffffffffffff"), /varint|invalid field tag/],
  ["args over maxMessageBytes", hex("09000000 0a0153 12014d 18ff7f"), /args_size 16383/],
  [
    "a name length that overflows to a negative int32",
    hex("07000000 0afaffffff0f41"),
    /field 1 of 4294967290 bytes overruns the 1 bytes left/,
  ],
  [
    "args_size over 2^32-1 (not truncated)",
    hex("0c000000 0a0153 12014d 18ffffffff1f"),
    /args_size is over 2\^32-1/,
  ],
  ["args_size in 6 bytes", hex("0d000000 0a0153 12014d 18818080808000"), /longer than 5 bytes/],
  [
    "undecodable args",
    encodeLegacyRequest("UserServiceRpc", "Login", hex("0a05")),
    /fixbug\.UserServiceRpc\.Login index out of range/,
  ],
];

Deno.test("malformed legacy requests close the connection with one log line; serving goes on", async () => {
  const { provider, logger, port } = await startUserProvider({ maxMessageBytes: 1000 });
  try {
    for (const [what, bytes, pattern] of malformed) {
      const before = logger.problems.length;
      assert.deepEqual(await rawCall(port, bytes), new Uint8Array(), `${what}: no reply`);
      await until(() => logger.problems.length > before, `the log line of ${what}`);
      const lines = logger.problems.slice(before);
      assert.equal(lines.length, 1, `${what}: ${JSON.stringify(lines)}`);
      assert.equal(lines[0]!.level, "warn");
      assert.match(Object.values(lines[0]!.fields).join(" "), pattern, what);
      // Still serving both protocols.
      assert.deepEqual(await rawCall(port, LOGIN_REQUEST), LOGIN_REPLY, `${what}: legacy after`);
      assert.equal((await nativeLogin(port)).success, false, `${what}: native after`);
    }
    await until(() => provider.connectionCount === 0, "every connection closed");
    assert.equal(logger.problems.length, malformed.length);
  } finally {
    await provider.close();
  }
});

Deno.test("a failing handler closes the legacy connection without a reply and logs once", async () => {
  const { provider, logger, port } = await startUserProvider();
  try {
    for (const [id, code] of [[0, "INVALID_ARGUMENT"], [1, "INTERNAL"]] as const) {
      const before = logger.problems.length;
      const args = new Uint8Array([0x08, id]);
      const reply = await rawCall(port, encodeLegacyRequest("UserServiceRpc", "Register", args));
      assert.deepEqual(reply, new Uint8Array());
      await until(() => logger.problems.length > before, "the log line");
      const lines = logger.problems.slice(before);
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.level, "error");
      assert.equal(lines[0]!.fields.code, code);
      assert.equal(lines[0]!.fields.method, "fixbug.UserServiceRpc.Register");
    }
    assert.deepEqual(await rawCall(port, REGISTER_REQUEST), REGISTER_REPLY);
  } finally {
    await provider.close();
  }
});

Deno.test("a legacy request that stalls is closed by the provider's read timeout", async () => {
  const { provider, logger, port } = await startUserProvider({ readTimeoutMs: 100 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(LOGIN_REQUEST.subarray(0, 10));
      const n = await conn.read(new Uint8Array(16)).catch(() => null);
      assert.equal(n, null, "closed without a reply");
    } finally {
      conn.close();
    }
    const lines = logger.problems;
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(String(lines[0]!.fields.why), /unfinished frame \(10 bytes\)/);
    assert.deepEqual(await rawCall(port, LOGIN_REQUEST), LOGIN_REPLY);
  } finally {
    await provider.close();
  }
});

Deno.test("with legacy off, a legacy request is refused as a bad frame", async () => {
  const { provider, logger, port } = await startUserProvider({ legacy: false });
  try {
    assert.deepEqual(await rawCall(port, LOGIN_REQUEST), new Uint8Array());
    await until(() => logger.problems.length > 0, "the log line");
    assert.equal(logger.problems.length, 1);
    assert.match(String(logger.problems[0]!.fields.error), /bad frame magic/);
    assert.equal((await nativeLogin(port)).success, false);
  } finally {
    await provider.close();
  }
});

Deno.test("a legacy call in flight finishes during a graceful close", async () => {
  const logger = new Capture();
  const provider = new RpcProvider({ legacy: true, logger });
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let started!: () => void;
  const running = new Promise<void>((r) => started = r);
  provider.notifyService(UserService, {
    Login: async () => {
      started();
      await gate;
      return { result: {}, success: false };
    },
  });
  await provider.start();
  const reply = rawCall(provider.address.port, LOGIN_REQUEST);
  await running;
  assert.equal(provider.inflight, 1);
  const closing = provider.close({ graceMs: 2000 });
  await new Promise((r) => setTimeout(r, 20));
  release();
  assert.deepEqual(await reply, LOGIN_REPLY);
  await closing;
  assert.equal(provider.connectionCount, 0);
});

Deno.test("a legacy call still running when the grace period ends is aborted without a reply", async () => {
  const provider = new RpcProvider({ legacy: true, logger: new Capture() });
  let reason: unknown;
  let started!: () => void;
  const running = new Promise<void>((r) => started = r);
  provider.notifyService(UserService, {
    Login: (_req, ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener("abort", () => {
          reason = ctx.signal.reason;
          resolve({ success: true });
        });
        started();
      }),
  });
  await provider.start();
  const reply = rawCall(provider.address.port, LOGIN_REQUEST);
  await running;
  await provider.close({ graceMs: 10 });
  assert.deepEqual(await reply, new Uint8Array());
  assert.ok(reason instanceof RpcError);
  assert.equal(reason.code, Code.UNAVAILABLE);
});

Deno.test("a provider registers with legacy: true exactly when it speaks the C++ protocol", async () => {
  const seen: ServiceRegistration[] = [];
  class Recording extends StaticRegistry {
    override register(reg: ServiceRegistration) {
      seen.push(reg);
      return super.register(reg);
    }
  }
  const registry = new Recording();
  for (const legacy of [true, false]) {
    seen.length = 0;
    const provider = new RpcProvider({ legacy, registry, logger: new Capture() });
    provider.notifyService(UserService, { Login: () => ({}) });
    await provider.start();
    await provider.close();
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.legacy, legacy, `legacy: ${legacy}`);
  }
  await registry.close();
});

Deno.test("two services with the same name without package: warned, the first one is served", async () => {
  const root = parseProto(`
    syntax = "proto3";
    package a; message M { bool ok = 1; } service Svc { rpc Go(M) returns (M); }
  `);
  const other = parseProto(`
    syntax = "proto3";
    package b; message M { bool ok = 1; } service Svc { rpc Go(M) returns (M); }
  `);
  const logger = new Capture();
  const provider = new RpcProvider({ legacy: true, logger });
  provider.notifyService(root.lookupService("a.Svc"), { Go: () => ({ ok: true }) });
  provider.notifyService(other.lookupService("b.Svc"), { Go: () => ({ ok: false }) });
  await provider.start();
  try {
    assert.equal(logger.problems.length, 1);
    assert.deepEqual(logger.problems[0]!.fields, {
      name: "Svc",
      served: "a.Svc",
      unreachable: "b.Svc",
    });
    const reply = await rawCall(provider.address.port, encodeLegacyRequest("Svc", "Go", hex("")));
    assert.deepEqual(reply, hex("0801"));
  } finally {
    await provider.close();
  }
});

Deno.test("a connection that closes before sending anything is not a problem", async () => {
  const { provider, logger, port } = await startUserProvider();
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    await until(() => provider.connectionCount === 0, "the connection to close");
    assert.deepEqual(logger.problems, []);
  } finally {
    await provider.close();
  }
});
