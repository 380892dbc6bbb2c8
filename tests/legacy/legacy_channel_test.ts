import assert from "node:assert/strict";
import { isLegacyResolver } from "../../src/legacy/legacy_call.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcController } from "../../src/client/rpc_controller.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { ConsoleLogger } from "../../src/log/logger.ts";
import type { Endpoint } from "../../src/registry/registry.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { loadProto } from "../../src/schema/load_proto.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import {
  hex,
  LOGIN_REPLY,
  LOGIN_REQUEST,
  REGISTER_REPLY,
  REGISTER_REQUEST,
} from "../_fixtures/legacy_vectors.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const user = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
const UserService = user.lookupService("fixbug.UserServiceRpc");
const quiet = new ConsoleLogger("CRITICAL");

/** The answer of a fake provider to one request: reply chunks (then close), or never answer. */
type Answer = Uint8Array[] | "hang";

/**
 * A stand-in for the C++ provider: a plain listener that reads `expect.length` bytes, records
 * them, answers as `answer` says and closes.
 */
function fakeCppProvider(expect: number, answer: (request: Uint8Array) => Answer) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const requests: Uint8Array[] = [];
  const serve = async (conn: Deno.Conn) => {
    const got: number[] = [];
    const buf = new Uint8Array(4096);
    while (got.length < expect) {
      const n = await conn.read(buf);
      if (n === null) return;
      got.push(...buf.subarray(0, n));
    }
    const request = new Uint8Array(got);
    requests.push(request);
    const a = answer(request);
    if (a === "hang") {
      await conn.read(buf).catch(() => null); // until the caller (or close()) hangs up
      return;
    }
    for (const chunk of a) {
      await conn.write(chunk);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const t = serve(conn).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* closed */ }
        conns.delete(conn);
      });
      tasks.add(t);
      void t.finally(() => tasks.delete(t)); // awaited through `tasks` by close()
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    requests,
    async close() {
      listener.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.all([...tasks]);
    },
  };
}

function legacyChannel(port: number, extra: Record<string, unknown> = {}) {
  return new RpcChannel({
    address: { host: "127.0.0.1", port },
    protocol: "mprpc-legacy",
    timeoutMs: 2000,
    logger: quiet,
    ...extra,
  });
}

function plainBytes(v: unknown): unknown {
  if (v instanceof Uint8Array) return td.decode(v);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainBytes(x)]));
  }
  return v;
}

async function rejectsWith(p: Promise<unknown>, code: number, pattern: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RpcError, String(e));
    assert.equal(e.codeName, new RpcError(code, "").codeName, e.message);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a legacy channel sends the original's bytes and decodes the original's replies", async () => {
  const login = fakeCppProvider(LOGIN_REQUEST.length, () => [LOGIN_REPLY]);
  const register = fakeCppProvider(REGISTER_REQUEST.length, () => [REGISTER_REPLY]);
  try {
    await using a = legacyChannel(login.port);
    await using b = legacyChannel(register.port);
    const res = await a.stub(UserService).Login!({
      name: te.encode("alice"),
      pwd: te.encode("s3cret"),
    });
    assert.deepEqual(plainBytes(res), { result: { errcode: 0, errmsg: "" }, success: false });
    const reg = await b.stub(UserService).Register!({
      id: 2001,
      name: te.encode("Kejiang"),
      pwd: te.encode("666666"),
    });
    assert.deepEqual(plainBytes(reg), { result: { errcode: 0, errmsg: "" }, success: true });
    assert.deepEqual(login.requests, [LOGIN_REQUEST]);
    assert.deepEqual(register.requests, [REGISTER_REQUEST]);
  } finally {
    await login.close();
    await register.close();
  }
});

Deno.test("a legacy reply longer than 1024 bytes and sent in pieces is read to the end", async () => {
  const errmsg = "e".repeat(3000);
  const full = new Uint8Array([
    ...hex("0ab917"), // result, 3001 bytes: 12 b817 + 3000 bytes
    ...hex("12b817"),
    ...te.encode(errmsg),
    ...hex("1001"),
  ]);
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => [
    full.subarray(0, 1),
    full.subarray(1, 1500),
    full.subarray(1500),
  ]);
  try {
    await using channel = legacyChannel(fake.port);
    const res = await channel.stub(UserService).Login!({
      name: te.encode("alice"),
      pwd: te.encode("s3cret"),
    });
    assert.deepEqual(plainBytes(res), { result: { errcode: 0, errmsg }, success: true });
  } finally {
    await fake.close();
  }
});

Deno.test("a native and a legacy caller are served by the same provider port at once", async () => {
  const provider = new RpcProvider({ legacy: true, logger: quiet });
  provider.notifyService(UserService, {
    Login: async (req) => {
      await new Promise((r) => setTimeout(r, 5)); // overlap the calls
      return { result: { errcode: 0, errmsg: req.name }, success: td.decode(req.pwd) === "ok" };
    },
  });
  await provider.start();
  try {
    const address = { host: "127.0.0.1", port: provider.address.port };
    await using native = new RpcChannel({ address, logger: quiet });
    await using legacy = new RpcChannel({ address, protocol: "mprpc-legacy", logger: quiet });
    const calls = [];
    for (let i = 0; i < 20; i++) {
      for (const [who, ch] of [["native", native], ["legacy", legacy]] as const) {
        const name = `${who}-${i}`;
        calls.push(
          ch.stub(UserService).Login!({ name: te.encode(name), pwd: te.encode(i % 2 ? "ok" : "") })
            .then((res) => [name, plainBytes(res)]),
        );
      }
    }
    const results = await Promise.all(calls);
    assert.equal(results.length, 40);
    for (const [name, res] of results) {
      const i = Number(String(name).split("-")[1]);
      assert.deepEqual(res, { result: { errcode: 0, errmsg: name }, success: i % 2 === 1 });
    }
  } finally {
    await provider.close();
  }
});

Deno.test("a legacy provider that never answers fails the call with DEADLINE_EXCEEDED", async () => {
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => "hang");
  try {
    await using channel = legacyChannel(fake.port);
    const call = channel.stub(UserService).Login!(
      { name: te.encode("alice"), pwd: te.encode("s3cret") },
      { timeoutMs: 100 },
    );
    await rejectsWith(call, Code.DEADLINE_EXCEEDED, /deadline exceeded/);
    assert.equal(fake.requests.length, 1, "the request did arrive");
  } finally {
    await fake.close();
  }
});

Deno.test("a refused connection fails a legacy call with UNAVAILABLE", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  await using channel = legacyChannel(port);
  await rejectsWith(
    channel.stub(UserService).Login!({}),
    Code.UNAVAILABLE,
    new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`),
  );
});

Deno.test("aborting the signal cancels a legacy call and closes its socket", async () => {
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => "hang");
  try {
    await using channel = legacyChannel(fake.port);
    const ac = new AbortController();
    const call = channel.stub(UserService).Login!(
      { name: te.encode("alice"), pwd: te.encode("s3cret") },
      { signal: ac.signal },
    );
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    ac.abort();
    await rejectsWith(call, Code.CANCELLED, /cancelled by the caller/);
  } finally {
    await fake.close();
  }
});

Deno.test("closing the channel cancels its legacy calls", async () => {
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => "hang");
  try {
    const channel = legacyChannel(fake.port);
    const call = channel.stub(UserService).Login!({
      name: te.encode("alice"),
      pwd: te.encode("s3cret"),
    });
    while (fake.requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    await channel.close();
    await rejectsWith(call, Code.CANCELLED, /channel closed/);
  } finally {
    await fake.close();
  }
});

Deno.test("an empty reply is UNAVAILABLE by default, an empty message when asked", async () => {
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => []);
  try {
    await using strict = legacyChannel(fake.port);
    const req = { name: te.encode("alice"), pwd: te.encode("s3cret") };
    await rejectsWith(
      strict.stub(UserService).Login!(req),
      Code.UNAVAILABLE,
      /closed the connection without a reply/,
    );
    await using lenient = legacyChannel(fake.port, { legacyEmptyReply: "message" });
    assert.deepEqual(await lenient.stub(UserService).Login!(req), { result: null, success: false });
  } finally {
    await fake.close();
  }
});

Deno.test("a legacy reply over maxMessageBytes is RESOURCE_EXHAUSTED", async () => {
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => [new Uint8Array(300)]);
  try {
    await using channel = legacyChannel(fake.port, { maxMessageBytes: 100 });
    await rejectsWith(
      channel.stub(UserService).Login!({ name: te.encode("alice"), pwd: te.encode("s3cret") }),
      Code.RESOURCE_EXHAUSTED,
      /exceeds maxMessageBytes 100/,
    );
  } finally {
    await fake.close();
  }
});

Deno.test("an undecodable legacy reply is INTERNAL, and callMethod reports it on the controller", async () => {
  const fake = fakeCppProvider(LOGIN_REQUEST.length, () => [hex("0a05")]);
  try {
    await using channel = legacyChannel(fake.port);
    const controller = new RpcController();
    const res = await channel.callMethod(UserService.methods.Login!, controller, {
      name: te.encode("alice"),
      pwd: te.encode("s3cret"),
    });
    assert.equal(res, undefined);
    assert.ok(controller.failed());
    assert.equal(controller.code, Code.INTERNAL);
    assert.match(
      controller.errorText(),
      /cannot decode the legacy reply of fixbug\.UserServiceRpc\.Login/,
    );
  } finally {
    await fake.close();
  }
});

/** A registry that also knows the C++ layout, like ZooKeeperRegistry. */
class LegacyLayoutRegistry extends StaticRegistry {
  asked: string[] = [];
  constructor(readonly nodes: Record<string, Endpoint>) {
    super();
  }
  resolveLegacy(serviceName: string, methodName: string): Promise<Endpoint | undefined> {
    this.asked.push(`/${serviceName}/${methodName}`);
    return Promise.resolve(this.nodes[`/${serviceName}/${methodName}`]);
  }
}

Deno.test("with a registry that has resolveLegacy, each method is resolved by its C++ node", async () => {
  const login = fakeCppProvider(LOGIN_REQUEST.length, () => [LOGIN_REPLY]);
  const register = fakeCppProvider(REGISTER_REQUEST.length, () => [REGISTER_REPLY]);
  const registry = new LegacyLayoutRegistry({
    "/UserServiceRpc/Login": { host: "127.0.0.1", port: login.port },
    "/UserServiceRpc/Register": { host: "127.0.0.1", port: register.port },
  });
  try {
    assert.ok(isLegacyResolver(registry));
    await using channel = new RpcChannel({ registry, protocol: "mprpc-legacy", logger: quiet });
    const users = channel.stub(UserService);
    const a = await users.Login!({ name: te.encode("alice"), pwd: te.encode("s3cret") });
    const b = await users.Register!({
      id: 2001,
      name: te.encode("Kejiang"),
      pwd: te.encode("666666"),
    });
    assert.equal(a.success, false);
    assert.equal(b.success, true);
    assert.deepEqual(registry.asked, ["/UserServiceRpc/Login", "/UserServiceRpc/Register"]);
    delete registry.nodes["/UserServiceRpc/Login"];
    await rejectsWith(
      users.Login!({}),
      Code.UNAVAILABLE,
      /no provider of UserServiceRpc\.Login registered \(node \/UserServiceRpc\/Login\)/,
    );
  } finally {
    await login.close();
    await register.close();
    await registry.close();
  }
});

Deno.test("with a plain registry, the legacy channel resolves the full service name", async () => {
  const provider = new RpcProvider({ legacy: true, logger: quiet });
  provider.notifyService(UserService, { Register: () => ({ result: {}, success: true }) });
  await provider.start();
  const registry = new StaticRegistry({
    "fixbug.UserServiceRpc": [`127.0.0.1:${provider.address.port}`],
  });
  try {
    await using channel = new RpcChannel({ registry, protocol: "mprpc-legacy", logger: quiet });
    const res = await channel.stub(UserService).Register!({ id: 1 });
    assert.equal(res.success, true);
    await using none = new RpcChannel({
      registry: new StaticRegistry(),
      protocol: "mprpc-legacy",
      logger: quiet,
    });
    await rejectsWith(
      none.stub(UserService).Register!({}),
      Code.UNAVAILABLE,
      /no provider available for service fixbug\.UserServiceRpc/,
    );
  } finally {
    await provider.close();
    await registry.close();
  }
});

Deno.test("a legacy call whose handler fails on our provider is UNAVAILABLE; retries try again", async () => {
  let calls = 0;
  const provider = new RpcProvider({ legacy: true, logger: quiet });
  provider.notifyService(UserService, {
    Register: () => {
      if (++calls === 1) throw new Error("transient");
      return { result: {}, success: true };
    },
  });
  await provider.start();
  try {
    await using channel = legacyChannel(provider.address.port);
    await rejectsWith(
      channel.stub(UserService).Register!({ id: 5 }),
      Code.UNAVAILABLE,
      /without a reply/,
    );
    calls = 0;
    const res = await channel.stub(UserService).Register!({ id: 5 }, { retries: 1 });
    assert.equal(res.success, true);
    assert.equal(calls, 2);
  } finally {
    await provider.close();
  }
});

Deno.test("an unknown protocol is refused", () => {
  assert.throws(
    () =>
      new RpcChannel({
        address: "127.0.0.1:1",
        protocol: "grpc" as unknown as "native",
      }),
    (e: unknown) => e instanceof TypeError && /protocol must be/.test(e.message),
  );
});

Deno.test("a registry without resolveLegacy is not a legacy resolver", async () => {
  const plain = new StaticRegistry();
  assert.equal(isLegacyResolver(plain), false);
  await plain.close();
});
