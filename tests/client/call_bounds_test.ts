/**
 * A call's `timeoutMs` and `signal` bound every stage before the request is sent: registry
 * lookup (ZooKeeper unreachable or stopped), TCP connect (a blackholed port), the connection
 * handshake (a provider that accepts but never answers), retries, and waiting behind a
 * connection attempt shared with other calls. Each ends `DEADLINE_EXCEEDED` no later than
 * `timeoutMs` + 50 ms, or `CANCELLED` no later than 50 ms after the abort.
 */
import assert from "node:assert/strict";
import { RpcChannel, type RpcChannelOptions } from "../../src/client/rpc_channel.ts";
import { RpcController } from "../../src/client/rpc_controller.ts";
import { Code, RpcError } from "../../src/errors.ts";
import type { Registry } from "../../src/registry/registry.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { blackholeUnavailable, startBlackhole } from "../_helpers/blackhole.ts";
import { kitchenService, type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";
import { deadPort, startRawServer } from "../_helpers/raw_tcp.ts";
import { startZooKeeper, zkAvailable } from "../../src/testing/mod.ts";

/** The bound: a deadline or an abort ends the call within this much. */
const SLACK_MS = 50;

const service = await kitchenService();
const noZooKeeper = !(await zkAvailable());
const noBlackhole = await blackholeUnavailable();

// Warm up the channel's slow path (first-run compilation takes tens of ms on a loaded machine),
// so the bounds below measure the call, not the JIT.
{
  const warm = new RpcChannel({ address: `127.0.0.1:${deadPort()}`, logger: new CaptureLogger() });
  await warm.stub<KitchenStub>(service).Echo({}, { timeoutMs: 1000 }).catch(() => {});
  await warm.close();
}

/**
 * When a plain timer set now for `ms` fires: how late the event loop itself runs on this machine
 * at this moment (other tests and processes share its cores), which the bounds allow for.
 */
function timerFiresAt(ms: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(Date.now()), ms));
}

/**
 * Awaits `p`, which must reject with an `RpcError` of `code` whose message matches `stage`, at
 * the latest at `boundAt` (a `Date.now()` time), or SLACK_MS after `reference` fired, when a
 * timer set with the call fired late itself.
 */
async function endsBy(
  p: Promise<unknown>,
  code: number,
  stage: RegExp,
  boundAt: number,
  reference?: Promise<number>,
): Promise<void> {
  const err = await p.then(
    (v) => assert.fail(`expected ${new RpcError(code, "").codeName}, got ${JSON.stringify(v)}`),
    (e) => e,
  );
  const at = Date.now();
  assert.ok(err instanceof RpcError, `expected an RpcError, got ${err}`);
  assert.equal(err.codeName, new RpcError(code, "").codeName, err.message);
  assert.match(err.message, stage);
  await endedWithin(at, boundAt, reference, err.message);
}

/**
 * Asserts that a call that ended `at` did so by `boundAt`, or within SLACK_MS of when
 * `reference` (a plain timer set with the call) fired, when that one fired late.
 */
async function endedWithin(
  at: number,
  boundAt: number,
  reference: Promise<number> | undefined,
  what: string,
): Promise<void> {
  const referenceAt = reference === undefined ? 0 : await reference;
  const bound = Math.max(boundAt, referenceAt + SLACK_MS);
  assert.ok(
    at <= bound,
    `ended ${at - bound} ms after the bound (a timer set with it fired ${
      Math.max(0, referenceAt - (boundAt - SLACK_MS))
    } ms late; ${what})`,
  );
}

/**
 * A deadline-bounded call: `timeoutMs` from now, must end by then + SLACK_MS (or SLACK_MS after a
 * timer of `timeoutMs` set with it, when that one fired late).
 */
function byDeadline(
  call: (timeoutMs: number) => Promise<unknown>,
  timeoutMs: number,
  stage: RegExp,
) {
  const boundAt = Date.now() + timeoutMs + SLACK_MS;
  const reference = timerFiresAt(timeoutMs);
  return endsBy(call(timeoutMs), Code.DEADLINE_EXCEEDED, stage, boundAt, reference);
}

/**
 * A call aborted after `afterMs`: must end CANCELLED by the abort + SLACK_MS (or SLACK_MS after a
 * zero timer set at the abort, when that one fired late).
 */
async function byAbort(
  call: (signal: AbortSignal) => Promise<unknown>,
  afterMs: number,
  stage: RegExp,
): Promise<void> {
  const ac = new AbortController();
  const p = call(ac.signal);
  p.catch(() => {}); // awaited below
  await new Promise((r) => setTimeout(r, afterMs));
  ac.abort();
  const reference = timerFiresAt(0);
  await endsBy(p, Code.CANCELLED, stage, Date.now() + SLACK_MS, reference);
}

function channel(options: RpcChannelOptions): { channel: RpcChannel; stub: KitchenStub } {
  const ch = new RpcChannel({ logger: new CaptureLogger(), ...options });
  return { channel: ch, stub: ch.stub<KitchenStub>(service) };
}

/** A provider that accepts connections and reads, but never answers the handshake. */
function silentProvider() {
  return startRawServer(async (conn) => {
    const buf = new Uint8Array(1024);
    while (await conn.read(buf) !== null) { /* swallow */ }
  });
}

/** Starts calls with no deadline to `stub` so connection attempts are under way; `stop()` ends them. */
function openAttempts(stub: KitchenStub, n: number) {
  const ac = new AbortController();
  const calls = Array.from(
    { length: n },
    () => stub.Echo({ text: "opener" }, { timeoutMs: 0, signal: ac.signal }).catch(() => {}),
  );
  return {
    async stop() {
      ac.abort();
      await Promise.all(calls);
    },
  };
}

// --- registry resolution -----------------------------------------------------------------

Deno.test("a call against an unreachable ZooKeeper ends DEADLINE_EXCEEDED at its timeoutMs, not after the registry's 10 s", async () => {
  await using registry = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const { channel: ch, stub } = channel({ registry });
  try {
    await byDeadline((t) => stub.Echo({}, { timeoutMs: t }), 500, /resolving the providers/);
  } finally {
    await ch.close();
  }
});

Deno.test("the channel's default timeoutMs bounds a callMethod against an unreachable ZooKeeper, reported on the controller", async () => {
  await using registry = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const ch = new RpcChannel({ registry, timeoutMs: 400, logger: new CaptureLogger() });
  try {
    const controller = new RpcController();
    const boundAt = Date.now() + 400 + SLACK_MS;
    const reference = timerFiresAt(400);
    const res = await ch.callMethod(service.methods["Echo"]!, controller, {});
    await endedWithin(Date.now(), boundAt, reference, controller.errorText());
    assert.equal(res, undefined);
    assert.equal(controller.code, Code.DEADLINE_EXCEEDED, controller.errorText());
    assert.match(controller.errorText(), /resolving the providers of kitchen\.Kitchen/);
  } finally {
    await ch.close();
  }
});

Deno.test("aborting a call waiting for an unreachable ZooKeeper ends it CANCELLED within 50 ms", async () => {
  await using registry = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const { channel: ch, stub } = channel({ registry });
  try {
    await byAbort((signal) => stub.Echo({}, { signal }), 200, /resolving the providers/);
  } finally {
    await ch.close();
  }
});

Deno.test("a legacy-protocol call against an unreachable ZooKeeper ends at its deadline or abort", async () => {
  await using registry = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const { channel: ch, stub } = channel({ registry, protocol: "mprpc-legacy" });
  try {
    await byDeadline((t) => stub.Echo({}, { timeoutMs: t }), 300, /resolving the provider/);
    await byAbort((signal) => stub.Echo({}, { signal }), 100, /resolving the provider/);
  } finally {
    await ch.close();
  }
});

Deno.test("a registry whose resolve never settles cannot hold a call past its deadline or abort", async () => {
  const stuck: Registry = {
    register: () => Promise.resolve(),
    unregister: () => Promise.resolve(),
    resolve: () => new Promise<never>(() => {}), // ignores any signal, never answers
    watch: () => ({ close() {} }),
    close: () => Promise.resolve(),
  };
  for (const protocol of ["native", "mprpc-legacy"] as const) {
    const { channel: ch, stub } = channel({ registry: stuck, protocol });
    try {
      await byDeadline((t) => stub.Echo({}, { timeoutMs: t }), 200, /resolving the provider/);
      await byAbort((signal) => stub.Echo({}, { signal }), 100, /resolving the provider/);
    } finally {
      await ch.close();
    }
  }
});

Deno.test({
  name: "calls against a ZooKeeper that was stopped end at their deadline or abort",
  ignore: noZooKeeper,
  async fn(t) {
    await using zk = await startZooKeeper();
    await using registry = new ZooKeeperRegistry({
      connect: zk.connect,
      logger: new CaptureLogger(),
    });
    await registry.resolve("other.Service"); // connected once
    await zk.halt();
    const native = channel({ registry });
    const legacy = channel({ registry, protocol: "mprpc-legacy" });
    try {
      await t.step(
        "native, deadline",
        () => byDeadline((ms) => native.stub.Echo({}, { timeoutMs: ms }), 500, /resolving/),
      );
      await t.step(
        "native, abort",
        () => byAbort((signal) => native.stub.Echo({}, { signal }), 200, /resolving/),
      );
      await t.step(
        "legacy, deadline",
        () => byDeadline((ms) => legacy.stub.Echo({}, { timeoutMs: ms }), 300, /resolving/),
      );
      await t.step(
        "legacy, abort",
        () => byAbort((signal) => legacy.stub.Echo({}, { signal }), 100, /resolving/),
      );
    } finally {
      await native.channel.close();
      await legacy.channel.close();
    }
  },
});

// --- handshake ------------------------------------------------------------------------------

Deno.test("a call waiting on a handshake another call started ends at its own deadline, not the connect timeout", async () => {
  await using silent = silentProvider();
  const { channel: ch, stub } = channel({ address: `127.0.0.1:${silent.port}` });
  const opener = openAttempts(stub, 1);
  try {
    await byDeadline(
      (t) => stub.Echo({}, { timeoutMs: t }),
      300,
      /answer the connection handshake/,
    );
  } finally {
    await opener.stop();
    await ch.close();
  }
});

Deno.test("aborting a call waiting for a handshake that never comes ends it CANCELLED within 50 ms", async () => {
  await using silent = silentProvider();
  const { channel: ch, stub } = channel({ address: `127.0.0.1:${silent.port}` });
  try {
    await byAbort((signal) => stub.Echo({}, { signal }), 200, /connection handshake/);
  } finally {
    await ch.close();
  }
});

// --- connect --------------------------------------------------------------------------------

Deno.test({
  name: "a call to a blackholed port ends at its deadline or abort while connecting",
  ignore: noBlackhole !== undefined,
  async fn() {
    await using hole = await startBlackhole();
    const { channel: ch, stub } = channel({ address: `127.0.0.1:${hole.port}` });
    const opener = openAttempts(stub, 1);
    try {
      await byDeadline((t) => stub.Echo({}, { timeoutMs: t }), 300, /connecting to 127\.0\.0\.1/);
      await byAbort((signal) => stub.Echo({}, { signal }), 100, /connecting to 127\.0\.0\.1/);
    } finally {
      await opener.stop();
      await ch.close();
    }
  },
});

Deno.test("a TLS connect to a peer that never answers the TLS handshake ends at the deadline or abort, and frees its socket", async () => {
  await using silent = silentProvider();
  // The calls bounded by their own deadline or abort wait on an attempt that outlives them all,
  // so the attempt's own timeout never decides how they end, however slow the machine is.
  const waiting = channel({
    address: `127.0.0.1:${silent.port}`,
    tls: {},
    connectTimeoutMs: 60_000,
  });
  const givingUp = channel({
    address: `127.0.0.1:${silent.port}`,
    tls: {},
    connectTimeoutMs: 600,
  });
  try {
    // Starts the attempt (and the process's first TLS setup, which can block for a while on a
    // loaded machine); the calls measured below wait on the same attempt.
    await waiting.stub.Echo({}, { timeoutMs: 100 }).catch(() => {});
    await byDeadline(
      (t) => waiting.stub.Echo({}, { timeoutMs: t }),
      200,
      /connecting to 127\.0\.0\.1/,
    );
    await byAbort((signal) => waiting.stub.Echo({}, { signal }), 100, /connecting to 127\.0\.0\.1/);
    // The attempt itself gives up at connectTimeoutMs; its socket is closed (the sanitizer checks).
    await assert.rejects(
      givingUp.stub.Echo({}, { timeoutMs: 5000 }),
      /TCP connect and TLS handshake not completed within 600 ms/,
    );
  } finally {
    await waiting.channel.close();
    await givingUp.channel.close();
  }
});

// --- retries --------------------------------------------------------------------------------

Deno.test("a call with retries over providers that never answer ends at its deadline or abort", async () => {
  await using a = silentProvider();
  await using b = silentProvider();
  const registry = new StaticRegistry({
    "kitchen.Kitchen": [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`],
  });
  const { channel: ch, stub } = channel({ registry });
  const opener = openAttempts(stub, 2); // one attempt under way to each provider
  try {
    await byDeadline(
      (t) => stub.Echo({}, { timeoutMs: t, retries: 5 }),
      400,
      /connection handshake/,
    );
    await byAbort((signal) => stub.Echo({}, { signal, retries: 5 }), 200, /connection handshake/);
  } finally {
    await opener.stop();
    await ch.close();
  }
});

// --- queueing -------------------------------------------------------------------------------

Deno.test("calls queued behind one connection attempt each end at their own deadline", async () => {
  await using silent = silentProvider();
  const { channel: ch, stub } = channel({ address: `127.0.0.1:${silent.port}` });
  try {
    // The first (shortest) call opens the connection; the others queue behind its attempt.
    await Promise.all(
      [100, 200, 300, 400, 500, 600].map((ms) =>
        byDeadline((t) => stub.Echo({}, { timeoutMs: t }), ms, /connection handshake/)
      ),
    );
  } finally {
    await ch.close();
  }
});

Deno.test("calls queued behind one connection attempt are cancelled one by one", async () => {
  await using silent = silentProvider();
  const { channel: ch, stub } = channel({ address: `127.0.0.1:${silent.port}` });
  try {
    await Promise.all(
      [50, 150, 250].map((after) =>
        byAbort((signal) => stub.Echo({}, { signal }), after, /connection handshake/)
      ),
    );
  } finally {
    await ch.close();
  }
});

// --- RpcController ------------------------------------------------------------------------

Deno.test("RpcController.startCancel() ends a callMethod waiting for an unreachable ZooKeeper within 50 ms", async () => {
  await using registry = new ZooKeeperRegistry({
    connect: `127.0.0.1:${deadPort()}`,
    logger: new CaptureLogger(),
  });
  const ch = new RpcChannel({ registry, logger: new CaptureLogger() });
  try {
    const controller = new RpcController();
    const call = ch.callMethod(service.methods["Echo"]!, controller, {});
    await new Promise((r) => setTimeout(r, 200));
    controller.startCancel();
    const boundAt = Date.now() + SLACK_MS;
    const reference = timerFiresAt(0);
    assert.equal(await call, undefined);
    await endedWithin(Date.now(), boundAt, reference, controller.errorText());
    assert.equal(controller.code, Code.CANCELLED, controller.errorText());
    assert.ok(controller.isCanceled());
    assert.match(controller.errorText(), /resolving the providers/);
  } finally {
    await ch.close();
  }
});

Deno.test("RpcController.startCancel() cancels a call in flight and the handler's signal aborts", async () => {
  await using k = await startKitchen();
  const controller = new RpcController();
  const call = k.channel.callMethod(k.service.methods["Sleep"]!, controller, {
    ms: 10_000,
    token: "t1",
  });
  await k.events.wait("started:t1");
  controller.startCancel();
  assert.equal(await call, undefined);
  assert.equal(controller.code, Code.CANCELLED);
  const reason = await k.events.wait<RpcError>("aborted:t1");
  assert.equal(reason.code, Code.CANCELLED);
});

// --- what the log says ------------------------------------------------------------------------

Deno.test("a provider that never answers the handshake is logged as such, a blackholed one as a TCP connect", async (t) => {
  const attempt = async (port: number) => {
    const logger = new CaptureLogger();
    const ch = new RpcChannel({ address: `127.0.0.1:${port}`, logger, connectTimeoutMs: 150 });
    try {
      await assert.rejects(ch.stub<KitchenStub>(service).Echo({}, { timeoutMs: 2000 }));
    } finally {
      await ch.close();
    }
    const line = logger.find("warn", "provider unreachable")[0];
    assert.ok(line, JSON.stringify(logger.lines));
    return String(line.fields["error"]);
  };
  await t.step("handshake", async () => {
    await using silent = silentProvider();
    assert.match(await attempt(silent.port), /no answer to the connection handshake within 150 ms/);
  });
  await t.step({
    name: "TCP connect",
    ignore: noBlackhole !== undefined,
    async fn() {
      await using hole = await startBlackhole();
      assert.match(await attempt(hole.port), /TCP connect not completed within 150 ms/);
    },
  });
});

// --- provider health follows connection attempts, not the calls waiting on them ------------

Deno.test("a connection attempt that fails after every waiting call's deadline still puts the provider in backoff", async () => {
  await using silent = silentProvider();
  const logger = new CaptureLogger();
  const ch = new RpcChannel({ address: `127.0.0.1:${silent.port}`, logger, connectTimeoutMs: 150 });
  try {
    await assert.rejects(
      ch.stub<KitchenStub>(service).Echo({}, { timeoutMs: 50 }),
      (e) => e instanceof RpcError && e.code === Code.DEADLINE_EXCEEDED,
    );
    const line = await logger.waitFor("warn", "provider unreachable");
    assert.match(String(line.fields["error"]), /handshake within 150 ms/);
  } finally {
    await ch.close();
  }
});

Deno.test("one refused connection attempt with many calls waiting counts as one failure", async () => {
  const logger = new CaptureLogger();
  const ch = new RpcChannel({ address: `127.0.0.1:${deadPort()}`, logger });
  try {
    const stub = ch.stub<KitchenStub>(service);
    await Promise.all(
      Array.from({ length: 10 }, () => assert.rejects(stub.Echo({}, { timeoutMs: 2000 }))),
    );
    const downs = logger.find("warn", "provider unreachable");
    assert.equal(downs.length, 1, JSON.stringify(downs.map((l) => l.fields)));
    assert.equal(downs[0]!.fields["backoffMs"], 100, "the first failure's backoff");
  } finally {
    await ch.close();
  }
});
