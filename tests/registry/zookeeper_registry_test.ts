/**
 * ZooKeeperRegistry against a real ZooKeeper (one throw-away server per test, from
 * src/testing/). ZooKeeper's own view is read with a separate plain client.
 */
import assert from "node:assert/strict";
import { Buffer } from "../../src/deps.ts";
import { zookeeper } from "../../src/deps_zookeeper.ts";
import { Code, RpcError } from "../../src/errors.ts";
import type { Endpoint, ServiceRegistration } from "../../src/registry/registry.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import type { LogFields, Logger } from "../../src/log/logger.ts";
import { connectZkClient, type ZkStat } from "../../src/testing/_zk_client.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";
import { expireSession } from "../_helpers/expire_session.ts";
import { eventually } from "../_helpers/eventually.ts";

const ignore = !(await zkAvailable());
const SERVICE = "fixbug.UserServiceRpc";
const PROVIDERS = `/mprpc/${SERVICE}/providers`;

/** A logger that keeps lines (and can print them when debugging). */
class MemoryLogger implements Logger {
  lines: string[] = [];
  #add(level: string, msg: string, fields?: LogFields) {
    this.lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  }
  debug(msg: string, fields?: LogFields) {
    this.#add("DEBUG", msg, fields);
  }
  info(msg: string, fields?: LogFields) {
    this.#add("INFO", msg, fields);
  }
  warn(msg: string, fields?: LogFields) {
    this.#add("WARN", msg, fields);
  }
  error(msg: string, fields?: LogFields) {
    this.#add("ERROR", msg, fields);
  }
  critical(msg: string, fields?: LogFields) {
    this.#add("CRITICAL", msg, fields);
  }
}

function provider(port: number, service = SERVICE): ServiceRegistration {
  return { service, methods: ["Login", "Register"], host: "127.0.0.1", port };
}

function ports(list: Endpoint[]): number[] {
  return list.map((e) => e.port);
}

function hex(id: Uint8Array): string {
  return "0x" + Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha1Base64(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return btoa(String.fromCharCode(...new Uint8Array(hash)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects the lists a watch delivers. */
function recorder() {
  const seen: number[][] = [];
  return { seen, onChange: (list: Endpoint[]) => seen.push(ports(list)) };
}

Deno.test({
  name: "ZooKeeperRegistry: two providers of a service are both resolved, as ephemeral JSON nodes",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using a = new ZooKeeperRegistry({ connect: zk.connect, logger: new MemoryLogger() });
    await using b = new ZooKeeperRegistry({ connect: zk.connect, logger: new MemoryLogger() });
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, logger: new MemoryLogger() });
    await a.register(provider(8000));
    await b.register({ ...provider(8001), weight: 3 });

    const resolved = await caller.resolve(SERVICE);
    assert.deepEqual(resolved, [
      { host: "127.0.0.1", port: 8000, weight: 1, methods: ["Login", "Register"] },
      { host: "127.0.0.1", port: 8001, weight: 3, methods: ["Login", "Register"] },
    ]);

    await using zc = await connectZkClient(zk.connect);
    assert.deepEqual(await zc.getChildren("/mprpc"), [SERVICE]);
    assert.deepEqual(await zc.getChildren(`/mprpc/${SERVICE}`), ["providers"]);
    assert.deepEqual(await zc.getChildren(PROVIDERS), ["127.0.0.1:8000", "127.0.0.1:8001"]);
    for (const parent of ["/mprpc", `/mprpc/${SERVICE}`, PROVIDERS]) {
      const stat = await zc.exists(parent) as ZkStat;
      assert.equal(hex(stat.ephemeralOwner), "0x0000000000000000", `${parent} is persistent`);
    }
    const { data, stat } = await zc.getData(`${PROVIDERS}/127.0.0.1:8000`);
    assert.equal(hex(stat.ephemeralOwner), a.sessionId, "ephemeral, owned by provider a's session");
    assert.notEqual(a.sessionId, "0x0000000000000000");
    const json = JSON.parse(data!.toString());
    assert.deepEqual(Object.keys(json).sort(), [
      "host",
      "methods",
      "pid",
      "port",
      "protocolVersion",
      "startTime",
      "weight",
    ]);
    assert.equal(json.host, "127.0.0.1");
    assert.equal(json.port, 8000);
    assert.deepEqual(json.methods, ["Login", "Register"]);
    assert.equal(json.protocolVersion, 1);
    assert.equal(json.weight, 1);
    assert.equal(json.pid, Deno.pid);
    assert.ok(!Number.isNaN(Date.parse(json.startTime)), `startTime ${json.startTime} is a date`);
    const other = await zc.getData(`${PROVIDERS}/127.0.0.1:8001`);
    assert.equal(hex(other.stat.ephemeralOwner), b.sessionId);
    assert.equal(JSON.parse(other.data!.toString()).weight, 3);
  },
});

Deno.test({
  name: "ZooKeeperRegistry: a watch sees providers added and removed, down to an empty list",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const log = new MemoryLogger();
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, root: "/w", logger: log });
    const a = new ZooKeeperRegistry({ connect: zk.connect, root: "/w", logger: log });
    const b = new ZooKeeperRegistry({ connect: zk.connect, root: "/w", logger: log });
    try {
      assert.deepEqual(await caller.resolve(SERVICE), [], "no providers node yet");
      const rec = recorder();
      const watch = caller.watch(SERVICE, rec.onChange);
      await a.register(provider(8000));
      await eventually("[8000]", () => rec.seen.at(-1)?.join() === "8000");
      await b.register(provider(8001));
      await eventually("[8000,8001]", () => rec.seen.at(-1)?.join() === "8000,8001");
      await a.close();
      await eventually("[8001]", () => rec.seen.at(-1)?.join() === "8001");
      assert.deepEqual(ports(await caller.resolve(SERVICE)), [8001]);
      await b.unregister(provider(8001));
      await eventually("[]", () => rec.seen.at(-1)?.length === 0);
      assert.deepEqual(await caller.resolve(SERVICE), [], "an empty list from a healthy session");
      assert.deepEqual(rec.seen, [[8000], [8000, 8001], [8001], []]);
      watch.close();
      await b.register(provider(8002));
      assert.deepEqual(
        ports(
          await eventually("8002 cached", async () => {
            const list = await caller.resolve(SERVICE);
            return list.length ? list : undefined;
          }),
        ),
        [8002],
      );
      assert.equal(rec.seen.length, 4, "a closed watch is not called");
    } finally {
      await a.close();
      await b.close();
    }
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: by default the C++ layout /<Service>/<Method> = ip:port is written for legacy providers only, and C++ nodes are read",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    // No legacyLayout option: by default the C++ layout follows each registration's `legacy`.
    await using p = new ZooKeeperRegistry({ connect: zk.connect, logger: new MemoryLogger() });
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, logger: new MemoryLogger() });
    await p.register({ ...provider(8000), legacy: true });
    await p.register(provider(8001, "fixbug.NativeOnlyRpc")); // no legacy: true, no C++ nodes
    await using zc = await connectZkClient(zk.connect);
    assert.equal(await zc.exists("/NativeOnlyRpc"), null);
    const service = await zc.getData("/UserServiceRpc");
    assert.equal(service.data?.length ?? 0, 0, "service node has empty data");
    assert.equal(hex(service.stat.ephemeralOwner), "0x0000000000000000", "service node persistent");
    assert.deepEqual(await zc.getChildren("/UserServiceRpc"), ["Login", "Register"]);
    for (const m of ["Login", "Register"]) {
      const { data, stat } = await zc.getData(`/UserServiceRpc/${m}`);
      assert.deepEqual([...data!], [...Buffer.from("127.0.0.1:8000")], "ASCII, no terminator");
      assert.equal(hex(stat.ephemeralOwner), p.sessionId);
    }
    assert.notEqual(await zc.exists(`${PROVIDERS}/127.0.0.1:8000`), null, "new layout too");

    assert.deepEqual(await caller.resolveLegacy("UserServiceRpc", "Login"), {
      host: "127.0.0.1",
      port: 8000,
      weight: 1,
    });
    // A C++ provider's nodes, written by hand.
    await zc.create("/FriendServiceRpc");
    await zc.create(
      "/FriendServiceRpc/GetFriendsList",
      Buffer.from("10.0.0.7:9000"),
      zookeeper.CreateMode.EPHEMERAL,
    );
    assert.deepEqual(await caller.resolveLegacy("FriendServiceRpc", "GetFriendsList"), {
      host: "10.0.0.7",
      port: 9000,
      weight: 1,
    });
    assert.equal(await caller.resolveLegacy("FriendServiceRpc", "Nope"), undefined);
    // The cache follows the node through its watch.
    await zc.setData("/FriendServiceRpc/GetFriendsList", Buffer.from("10.0.0.8:9001"));
    await eventually(
      "legacy data change",
      async () => (await caller.resolveLegacy("FriendServiceRpc", "GetFriendsList"))?.port === 9001,
    );
    await zc.create("/FriendServiceRpc/Nope", Buffer.from("10.0.0.9:9002"), 1);
    await eventually(
      "legacy node created",
      async () => (await caller.resolveLegacy("FriendServiceRpc", "Nope"))?.port === 9002,
    );

    await p.close();
    assert.equal(await zc.exists("/UserServiceRpc/Login"), null);
    assert.notEqual(await zc.exists("/UserServiceRpc"), null, "the persistent node stays");
  },
});

Deno.test({
  name: "ZooKeeperRegistry: close deletes the nodes at once, is idempotent, and refuses later use",
  ignore,
  async fn() {
    await using zk = await startZooKeeper({ maxSessionTimeout: 60_000 });
    const p = new ZooKeeperRegistry({
      connect: zk.connect,
      root: "/c",
      logger: new MemoryLogger(),
    });
    await p.register(provider(8000));
    await p.register(provider(8000, "other.Svc"));
    await using zc = await connectZkClient(zk.connect);
    assert.notEqual(await zc.exists(`/c/${SERVICE}/providers/127.0.0.1:8000`), null);
    await p.close();
    // No waiting: the session timeout here is 30 s, so only a graceful delete explains this.
    assert.equal(await zc.exists(`/c/${SERVICE}/providers/127.0.0.1:8000`), null);
    assert.equal(await zc.exists("/c/other.Svc/providers/127.0.0.1:8000"), null);
    await p.close();
    await assert.rejects(
      p.resolve(SERVICE),
      (e) => e instanceof RpcError && e.code === Code.FAILED_PRECONDITION,
    );
    await assert.rejects(p.register(provider(1)), /closed/);
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: after its session is expired, the provider's nodes come back in a new session",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const log = new MemoryLogger();
    await using p = new ZooKeeperRegistry({ connect: zk.connect, root: "/e", logger: log });
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, root: "/e", logger: log });
    await p.register(provider(8000));
    const path = `/e/${SERVICE}/providers/127.0.0.1:8000`;
    const rec = recorder();
    caller.watch(SERVICE, rec.onChange);
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000]);
    const first = p.sessionId!;
    await using zc = await connectZkClient(zk.connect);
    // Expire the session for real: join it from another connection and close it there; the
    // registry's client learns on reconnection that it expired.
    await expireSession(zk.connect, first);
    await eventually("a new session", () => p.sessionId !== first && p.sessionId !== undefined);
    const second = p.sessionId!;
    assert.notEqual(second, first);
    const stat = await eventually("node back", () => zc.exists(path));
    assert.equal(hex(stat.ephemeralOwner), second);
    assert.ok(log.lines.some((l) => l.includes(`ZooKeeper session ${first} expired`)), "logged");
    await eventually(
      "re-creation logged",
      () => log.lines.some((l) => l.includes("provider node(s) re-created")),
    );
    // Callers saw the provider come back (maybe after a moment without it: the node was really
    // gone, and their own session was healthy).
    await eventually("caller sees it again", () => rec.seen.at(-1)?.join() === "8000");
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000]);
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: down longer than the session timeout, a fresh session replaces the old node",
  ignore,
  async fn() {
    await using zk = await startZooKeeper({ tickTime: 100, minSessionTimeout: 200 });
    const log = new MemoryLogger();
    await using p = new ZooKeeperRegistry({
      connect: zk.connect,
      root: "/x",
      sessionTimeoutMs: 1500,
      logger: log,
    });
    await p.register(provider(8000));
    const path = `/x/${SERVICE}/providers/127.0.0.1:8000`;
    const first = p.sessionId!;
    await zk.halt();
    await sleep(2000); // > 1500: the registry's own timer gives the session up
    await zk.restart(); // the server restores the old session (and its node) for 1.5 s more
    await using zc = await connectZkClient(zk.connect);
    const stat = await eventually("node owned by the new session", async () => {
      const st = await zc.exists(path);
      return st && p.sessionId !== first && hex(st.ephemeralOwner) === p.sessionId ? st : undefined;
    });
    assert.notEqual(hex(stat.ephemeralOwner), first);
    assert.ok(
      log.lines.some((l) => l.includes("disconnected for longer than the session timeout")),
      "logged",
    );
    assert.ok(log.lines.some((l) => l.includes("replacing a node left by an old session")));
    // When the server expires the old session, our node must survive (Dubbo #5125).
    await sleep(2500);
    const after = await zc.exists(path);
    assert.ok(after, "node still there after the old session expired");
    assert.equal(hex(after.ephemeralOwner), p.sessionId);
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: with ZooKeeper down callers keep cached providers; back up, watches resume",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    const log = new MemoryLogger();
    await using a = new ZooKeeperRegistry({ connect: zk.connect, root: "/d", logger: log });
    await using b = new ZooKeeperRegistry({ connect: zk.connect, root: "/d", logger: log });
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, root: "/d", logger: log });
    await a.register(provider(8000));
    const rec = recorder();
    caller.watch(SERVICE, rec.onChange);
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000]);
    await eventually("first notification", () => rec.seen.length === 1);

    await zk.halt();
    await eventually(
      "caller disconnected",
      () => log.lines.some((l) => l.includes("disconnected")),
    );
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000], "cached while down");
    await zk.restart();
    await b.register(provider(8001)); // waits for the reconnection
    await eventually("watch after restart", () => rec.seen.at(-1)?.join() === "8000,8001");
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000, 8001]);
    assert.ok(rec.seen.every((l) => l.length > 0), `never empty: ${JSON.stringify(rec.seen)}`);
  },
});

Deno.test({
  name: "ZooKeeperRegistry: a frozen ZooKeeper is noticed; once it thaws the nodes are back and " +
    "callers kept their providers",
  ignore,
  async fn() {
    await using zk = await startZooKeeper({ tickTime: 100, minSessionTimeout: 200 });
    const log = new MemoryLogger();
    const opts = { connect: zk.connect, root: "/f", sessionTimeoutMs: 1500, logger: log };
    await using p = new ZooKeeperRegistry(opts);
    await using caller = new ZooKeeperRegistry(opts);
    await p.register(provider(8000));
    const rec = recorder();
    caller.watch(SERVICE, rec.onChange);
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000]);
    await zk.pause(); // SIGSTOP: connections stay open, nothing answers
    // The client would wait forever on a silent connection; the registry notices the silence.
    await eventually("silence noticed", () => log.lines.some((l) => l.includes("disconnected")));
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000], "cached while frozen");
    await sleep(1500);
    await zk.resume();
    await using zc = await connectZkClient(zk.connect);
    await eventually("node owned by a live session", async () => {
      const st = await zc.exists(`/f/${SERVICE}/providers/127.0.0.1:8000`);
      return st && hex(st.ephemeralOwner) === p.sessionId;
    });
    // Whether the old session survives is ZooKeeper's race on thawing (its expirer thread against
    // the client's reconnect), so either is right: what matters is that the node is owned by the
    // live session and callers kept their providers throughout.
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000]);
    assert.ok(rec.seen.every((l) => l.length > 0), `never empty: ${JSON.stringify(rec.seen)}`);
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: unreachable ZooKeeper fails register/resolve UNAVAILABLE within connectTimeoutMs",
  async fn() {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const log = new MemoryLogger();
    await using r = new ZooKeeperRegistry({
      connect: `127.0.0.1:${port}`,
      connectTimeoutMs: 500,
      logger: log,
    });
    const expected = `ZooKeeper 127.0.0.1:${port} unreachable after 500 ms`;
    for (const attempt of [() => r.register(provider(8000)), () => r.resolve(SERVICE)]) {
      const started = Date.now();
      await assert.rejects(attempt(), (e) => {
        assert.ok(e instanceof RpcError);
        assert.equal(e.code, Code.UNAVAILABLE);
        assert.equal(e.message, expected);
        return true;
      });
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 450 && elapsed < 3000, `failed after ${elapsed} ms, bound 500 ms`);
    }
    assert.ok(log.lines.some((l) => l.startsWith(`WARN ${expected}`)), "a log line says so");
  },
});

Deno.test({
  name: "ZooKeeperRegistry: digest auth ACL lets others read but not delete or overwrite",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using p = new ZooKeeperRegistry({
      connect: zk.connect,
      root: "/secure",
      auth: { scheme: "digest", id: "svc:s3cret" },
      logger: new MemoryLogger(),
    });
    await p.register(provider(8000));
    const path = `/secure/${SERVICE}/providers/127.0.0.1:8000`;
    await using anon = await connectZkClient(zk.connect);
    await using owner = await connectZkClient(zk.connect, { digest: "svc:s3cret" });
    const acl = await owner.getACL(path); // (ZooKeeper masks the digest as "svc:x" for others)
    assert.deepEqual(
      acl.map((e) => [e.permission, e.id.scheme, e.id.id]),
      [[31, "digest", `svc:${await sha1Base64("svc:s3cret")}`], [1, "world", "anyone"]],
    );
    assert.equal(JSON.parse((await anon.getData(path)).data!.toString()).port, 8000, "world reads");
    const noAuth = (e: unknown) => (e as { code?: number }).code === zookeeper.Exception.NO_AUTH;
    await assert.rejects(anon.remove(path), noAuth);
    await assert.rejects(anon.setData(path, Buffer.from("{}")), noAuth);
    await assert.rejects(anon.create(`/secure/${SERVICE}/providers/6.6.6.6:1`), noAuth);
    await assert.rejects(anon.remove(`/secure/${SERVICE}/providers`), noAuth);
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, root: "/secure" });
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000], "callers need no auth");
    // A registry with other credentials may not register into this service.
    await using intruder = new ZooKeeperRegistry({
      connect: zk.connect,
      root: "/secure",
      auth: { scheme: "digest", id: "evil:guess" },
      logger: new MemoryLogger(),
    });
    await assert.rejects(
      intruder.register(provider(6666)),
      (e) => e instanceof RpcError && e.code === Code.PERMISSION_DENIED,
    );
    await p.unregister(provider(8000));
    assert.equal(await anon.exists(path), null, "the owner can delete");
  },
});

Deno.test("ZooKeeperRegistry: bad options are rejected with the offending value", async () => {
  assert.throws(() => new ZooKeeperRegistry({ connect: "" }), TypeError);
  assert.throws(() => new ZooKeeperRegistry({ connect: "localhost" }), /"localhost"/);
  assert.throws(() => new ZooKeeperRegistry({ connect: "h:1", root: "mprpc" }), /"mprpc"/);
  assert.throws(() => new ZooKeeperRegistry({ connect: "h:1", sessionTimeoutMs: 0 }), RangeError);
  assert.throws(
    () => new ZooKeeperRegistry({ connect: "h:1", auth: { scheme: "digest", id: "nocolon" } }),
    TypeError,
  );
  assert.throws(
    () =>
      new ZooKeeperRegistry({
        connect: "h:1",
        acl: [{ perms: 64, scheme: "world", id: "anyone" }],
      }),
    /perms 64/,
  );
  await using r = new ZooKeeperRegistry({ connect: "127.0.0.1:1,127.0.0.1:2" });
  assert.throws(() => r.watch(".lead.Dot", () => {}), /leading dot/);
  await assert.rejects(r.register(provider(0)), /port 0/);
  await assert.rejects(r.resolve("a/b"), TypeError);
});

Deno.test({
  name:
    "ZooKeeperRegistry: legacyLayout false never writes the C++ layout; true also writes unmarked registrations",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using zc = await connectZkClient(zk.connect);
    {
      await using never = new ZooKeeperRegistry({
        connect: zk.connect,
        legacyLayout: false,
        logger: new MemoryLogger(),
      });
      await never.register({ ...provider(8100), legacy: true });
      assert.equal(await zc.exists("/UserServiceRpc"), null);
    }
    await using always = new ZooKeeperRegistry({
      connect: zk.connect,
      legacyLayout: true,
      logger: new MemoryLogger(),
    });
    await always.register(provider(8101)); // says nothing about legacy
    await always.register({ ...provider(8102, "fixbug.NativeOnlyRpc"), legacy: false });
    const login = await zc.getData("/UserServiceRpc/Login");
    assert.equal(new TextDecoder().decode(login.data ?? new Uint8Array()), "127.0.0.1:8101");
    assert.equal(await zc.exists("/NativeOnlyRpc"), null);
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: provider nodes that cannot be used are skipped with one WARN each naming the node and why; the good one is used",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using zc = await connectZkClient(zk.connect);
    await using p = new ZooKeeperRegistry({ connect: zk.connect, logger: new MemoryLogger() });
    await p.register(provider(8000));
    const bad: Record<string, [string, RegExp]> = {
      "not-json": ["{oops", /data is not JSON and the node name is not host:port/],
      "127.0.0.1:8001": ['{"host":"127.0.0.1","port":70000}', /port 70000 out of range/],
      "127.0.0.1:8002": ['{"port":8002,"methods":["Login"]}', /host missing/],
      "127.0.0.1:8003": ['{"host":"127.0.0.1","port":"8003"}', /port is not a number: \\"8003\\"/],
      "127.0.0.1:8004": ['{"host":7,"port":8004}', /host is not a string: 7/],
      "127.0.0.1:8005": ['{"host":"127.0.0.1","port":8005,"methods":"Login"}', /methods is not/],
      "empty-name": ["", /no data and the node name is not host:port/],
    };
    for (const [name, [data]] of Object.entries(bad)) {
      await zc.create(`${PROVIDERS}/${name}`, Buffer.from(data));
    }
    // A node written by another tool (data not JSON) is still read from its name.
    await zc.create(`${PROVIDERS}/127.0.0.1:8009`, Buffer.from("written by another tool"));

    const log = new MemoryLogger();
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, logger: log });
    assert.deepEqual(ports(await caller.resolve(SERVICE)), [8000, 8009]);
    const skipped = () => log.lines.filter((l) => l.startsWith("WARN ZooKeeper: skipping"));
    assert.equal(skipped().length, Object.keys(bad).length, skipped().join("\n"));
    for (const [name, [, why]] of Object.entries(bad)) {
      const lines = skipped().filter((l) => l.includes(`"path":"${PROVIDERS}/${name}"`));
      assert.equal(lines.length, 1, `one WARN for ${name}: ${skipped().join("\n")}`);
      assert.match(lines[0]!, why);
    }

    // A storm of re-reads (providers come and go) does not repeat the warnings.
    for (let port = 8100; port < 8105; port++) {
      await p.register(provider(port));
      await eventually(
        `${port} resolved`,
        async () => ports(await caller.resolve(SERVICE)).includes(port),
      );
    }
    assert.equal(skipped().length, Object.keys(bad).length, skipped().join("\n"));

    // New content in a bad node is judged (and logged) again.
    await zc.setData(`${PROVIDERS}/127.0.0.1:8001`, Buffer.from('{"host":"127.0.0.1","port":0}'));
    await p.register(provider(8105));
    await eventually(
      "8105 resolved",
      async () => ports(await caller.resolve(SERVICE)).includes(8105),
    );
    const again = skipped().filter((l) => l.includes(`"path":"${PROVIDERS}/127.0.0.1:8001"`));
    assert.equal(again.length, 2);
    assert.match(again[1]!, /port 0 out of range/);
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: a C++ method node that is not ip:port is skipped with one WARN naming it",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using zc = await connectZkClient(zk.connect);
    await zc.mkdirp("/BrokenRpc");
    await zc.create("/BrokenRpc/Login", Buffer.from("localhost"));
    const log = new MemoryLogger();
    await using caller = new ZooKeeperRegistry({ connect: zk.connect, logger: log });
    assert.equal(await caller.resolveLegacy("BrokenRpc", "Login"), undefined);
    assert.equal(await caller.resolveLegacy("BrokenRpc", "Login"), undefined);
    const skipped = log.lines.filter((l) => l.startsWith("WARN ZooKeeper: skipping"));
    assert.equal(skipped.length, 1, log.lines.join("\n"));
    assert.match(skipped[0]!, /"path":"\/BrokenRpc\/Login","reason":"Cannot parse endpoint/);
    await zc.setData("/BrokenRpc/Login", Buffer.from("127.0.0.1:9000"));
    await eventually(
      "the repaired node",
      async () => (await caller.resolveLegacy("BrokenRpc", "Login"))?.port === 9000,
    );
  },
});

Deno.test({
  name:
    "ZooKeeperRegistry: legacyLayout true with a provider that does not speak the C++ protocol logs one WARN saying why nothing is written",
  ignore,
  async fn() {
    await using zk = await startZooKeeper();
    await using zc = await connectZkClient(zk.connect);
    const log = new MemoryLogger();
    await using reg = new ZooKeeperRegistry({
      connect: zk.connect,
      legacyLayout: true,
      logger: log,
    });
    const native = { ...provider(8200), legacy: false };
    await reg.register(native);
    await reg.register(native); // registering again (an update) does not repeat it
    await reg.register({ ...provider(8201), legacy: true });
    assert.equal(await zc.exists("/UserServiceRpc/Login").then((s) => s !== null), true);
    assert.equal(
      new TextDecoder().decode((await zc.getData("/UserServiceRpc/Login")).data),
      "127.0.0.1:8201",
      "only the provider speaking the C++ protocol is in the C++ layout",
    );
    const warned = log.lines.filter((l) => l.startsWith("WARN") && l.includes("legacyLayout"));
    assert.equal(warned.length, 1, log.lines.join("\n"));
    assert.match(warned[0]!, /does not speak the C\+\+ protocol \(legacy: false\)/);
    assert.match(warned[0]!, /"endpoint":"127\.0\.0\.1:8200"/);
  },
});
