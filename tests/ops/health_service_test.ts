/**
 * The built-in health service as callers and operators see it: real providers, real sockets.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { ClientConnection } from "../../src/client/client_connection.ts";
import { OutgoingCall } from "../../src/client/outgoing_call.ts";
import { DeadlineWheel } from "../../src/util/deadline_wheel.ts";
import { describeMethod } from "../../src/schema/method_descriptor.ts";
import { HEALTH_SERVICE, healthService } from "../../src/ops/health_service.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import type { ServiceRegistration } from "../../src/registry/registry.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, startKitchen } from "../_helpers/kitchen.ts";
import { eventually } from "../_helpers/eventually.ts";
import type { CallOptions } from "../../src/client/call_options.ts";

/** Watches `service` on `channel` without a deadline; `next()` is the next status. */
function watch(channel: RpcChannel, service: string) {
  const it = health(channel).Watch({ service }, { timeoutMs: 0 })[Symbol.asyncIterator]();
  return {
    next: async () => {
      const r = await it.next();
      return r.done ? "(end)" : r.value.status;
    },
    stop: async () => {
      await it.return?.();
    },
  };
}

type HealthStub = {
  Check(req: { service: string }): Promise<{ status: string }>;
  Watch(req: { service: string }, options?: CallOptions): AsyncIterable<{ status: string }>;
};

function health(channel: RpcChannel): HealthStub {
  return channel.stub<HealthStub>(healthService());
}

Deno.test("Check answers SERVING for the provider and its services, SERVICE_UNKNOWN for others", async () => {
  await using k = await startKitchen();
  const h = health(k.channel);
  assert.equal((await h.Check({ service: "" })).status, "SERVING");
  assert.equal((await h.Check({ service: "kitchen.Kitchen" })).status, "SERVING");
  assert.equal((await h.Check({ service: HEALTH_SERVICE })).status, "SERVING");
  assert.equal((await h.Check({ service: "no.Such" })).status, "SERVICE_UNKNOWN");
});

Deno.test("setServing(false) turns every check NOT_SERVING while calls are still served", async () => {
  await using k = await startKitchen();
  const h = health(k.channel);
  k.provider.setServing(false);
  assert.equal((await h.Check({ service: "" })).status, "NOT_SERVING");
  assert.equal((await h.Check({ service: "kitchen.Kitchen" })).status, "NOT_SERVING");
  assert.equal((await k.stub.Echo({ text: "still served" })).text, "still served");
  k.provider.setServing(true);
  assert.equal((await h.Check({ service: "" })).status, "SERVING");
});

/** A static registry whose unregister waits until `release()`. */
class GatedRegistry extends StaticRegistry {
  unregistering: Promise<void>;
  #started!: () => void;
  #gate: Promise<void>;
  release!: () => void;
  constructor() {
    super();
    this.unregistering = new Promise((r) => this.#started = r);
    this.#gate = new Promise((r) => this.release = r);
  }
  override async unregister(reg: ServiceRegistration): Promise<void> {
    this.#started();
    await this.#gate;
    return super.unregister(reg);
  }
}

Deno.test("a closing provider answers NOT_SERVING before it deregisters", async () => {
  const registry = new GatedRegistry();
  const provider = new RpcProvider({ registry, logger: new CaptureLogger() });
  provider.notifyService(await kitchenService(), { Echo: (r) => r });
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, timeoutMs: 10_000 });
  const h = health(channel);
  assert.equal((await h.Check({ service: "" })).status, "SERVING");
  const closing = provider.close({ graceMs: 1000 });
  await registry.unregistering;
  // Still registered and accepting: only health says it is leaving.
  assert.equal((await registry.resolve("kitchen.Kitchen")).length, 1);
  assert.equal((await h.Check({ service: "" })).status, "NOT_SERVING");
  assert.equal((await h.Check({ service: "kitchen.Kitchen" })).status, "NOT_SERVING");
  provider.setServing(true); // ignored once closing
  assert.equal((await h.Check({ service: "" })).status, "NOT_SERVING");
  registry.release();
  await closing;
  await channel.close();
  await registry.close();
});

Deno.test("a draining provider still answers health checks on a connection told to go away", async () => {
  await using k = await startKitchen();
  const wheel = new DeadlineWheel();
  const conn = new ClientConnection({
    host: k.provider.address.host,
    port: k.provider.address.port,
    maxMessageBytes: 1 << 20,
    wheel,
    logger: k.logger,
    connectTimeoutMs: 5000,
    onGone: () => {},
    onClosed: () => {},
  });
  try {
    await conn.connect();
    const sleep = describeMethod(k.service.methods["Sleep"]!);
    const slow = conn.call(
      new OutgoingCall(
        sleep,
        sleep.request.encode({ ms: 30_000, token: "drain" }),
        sleep.response,
        0,
        {},
        0,
      ),
    );
    await k.events.wait("started:drain");
    const closing = k.provider.close({ graceMs: 20_000 });
    await eventually("GOAWAY to reach the caller", () => conn.gone);
    const check = describeMethod(healthService().methods["Check"]!);
    const ask = (duringDrain: boolean) =>
      conn.call(
        new OutgoingCall(
          check,
          check.request.encode({ service: "" }),
          check.response,
          Date.now() + 5000,
          {},
          0,
          duringDrain,
        ),
      );
    assert.deepEqual(await ask(true), { status: "NOT_SERVING" });
    // Any other new call on that connection is refused as never started.
    await assert.rejects(ask(false), (e) => e instanceof RpcError && e.code === Code.UNAVAILABLE);
    const echo = describeMethod(k.service.methods["Echo"]!);
    // A raw request for another method after GOAWAY is refused by the provider too.
    await assert.rejects(
      conn.call(
        new OutgoingCall(
          echo,
          echo.request.encode({ text: "late" }),
          echo.response,
          Date.now() + 5000,
          {},
          0,
          true,
        ),
      ),
      (e) => e instanceof RpcError && e.code === Code.UNAVAILABLE && /not started/.test(e.message),
    );
    const ctx = await k.events.wait<CallContext>("started:drain");
    ctx.abort(new RpcError(Code.CANCELLED, "test done")); // lets the drain end now
    await slow.catch(() => {});
    await closing;
  } finally {
    await conn.close();
    wheel.close();
  }
});

Deno.test("health: false and reflection: false leave the built-in services out", async () => {
  await using k = await startKitchen({ provider: { health: false, reflection: false } });
  await assert.rejects(
    health(k.channel).Check({ service: "" }),
    (e) => e instanceof RpcError && e.code === Code.UNIMPLEMENTED,
  );
});

Deno.test("built-in services are not announced in the registry", async () => {
  const registry = new StaticRegistry();
  const provider = new RpcProvider({ registry, logger: new CaptureLogger() });
  provider.notifyService(await kitchenService(), { Echo: (r) => r });
  await provider.start();
  try {
    assert.equal((await registry.resolve("kitchen.Kitchen")).length, 1);
    assert.deepEqual(await registry.resolve(HEALTH_SERVICE), []);
    assert.deepEqual(await registry.resolve("mprpc.reflection.v1.Reflection"), []);
    assert.deepEqual(provider.services, ["kitchen.Kitchen"]);
  } finally {
    await provider.close();
    await registry.close();
  }
});

Deno.test("with workers every event loop answers health and follows setServing, also before start()", async () => {
  const provider = new RpcProvider({
    workers: 2,
    workerModule: new URL("../_fixtures/kitchen_worker_module.ts", import.meta.url),
    logger: new CaptureLogger(),
  });
  provider.setServing(false); // before start(): the Workers start not serving too
  await provider.start();
  // SO_REUSEPORT spreads connections by their source port: eight channels reach both loops
  // (all but certainly), and every one of them must agree.
  const channels = Array.from(
    { length: 8 },
    () => new RpcChannel({ address: provider.address, timeoutMs: 10_000 }),
  );
  try {
    const statuses = async () =>
      (await Promise.all(channels.map((c) => health(c).Check({ service: "kitchen.Kitchen" }))))
        .map((r) => r.status);
    assert.deepEqual(new Set(await statuses()), new Set(["NOT_SERVING"]));
    provider.setServing(true);
    await eventually(
      "every loop SERVING",
      async () => (await statuses()).every((s) => s === "SERVING"),
    );
    provider.setServing(false);
    await eventually(
      "every loop NOT_SERVING",
      async () => (await statuses()).every((s) => s === "NOT_SERVING"),
    );
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await provider.close({ graceMs: 0 });
  }
});

Deno.test("Watch sends the status at once, then each change, until the caller stops", async () => {
  await using k = await startKitchen();
  const w = watch(k.channel, "");
  const kitchen = watch(k.channel, "kitchen.Kitchen");
  assert.equal(await w.next(), "SERVING");
  assert.equal(await kitchen.next(), "SERVING");
  k.provider.setServing(false);
  assert.equal(await w.next(), "NOT_SERVING");
  assert.equal(await kitchen.next(), "NOT_SERVING");
  k.provider.setServing(false); // no change, no message
  k.provider.setServing(true);
  assert.equal(await w.next(), "SERVING");
  assert.equal(await kitchen.next(), "SERVING");
  await w.stop();
  await kitchen.stop();
  await eventually("the provider to end both watches", () => k.provider.inflight === 0);
});

Deno.test("Watch of a service the provider does not serve streams SERVICE_UNKNOWN", async () => {
  await using k = await startKitchen();
  const w = watch(k.channel, "no.Such");
  assert.equal(await w.next(), "SERVICE_UNKNOWN");
  k.provider.setServing(false);
  k.provider.setServing(true);
  const c = watch(k.channel, "");
  assert.equal(await c.next(), "SERVING"); // after both changes: the unknown one said nothing
  await c.stop();
  await w.stop();
  await eventually("the provider to end both watches", () => k.provider.inflight === 0);
});

Deno.test("a closing provider's Watch says NOT_SERVING before it deregisters, then ends", async () => {
  const registry = new GatedRegistry();
  const provider = new RpcProvider({ registry, logger: new CaptureLogger() });
  provider.notifyService(await kitchenService(), { Echo: (r) => r });
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, timeoutMs: 10_000 });
  try {
    const w = watch(channel, "kitchen.Kitchen");
    assert.equal(await w.next(), "SERVING");
    const closing = provider.close({ graceMs: 10_000 });
    await registry.unregistering;
    assert.equal(await w.next(), "NOT_SERVING");
    assert.equal((await registry.resolve("kitchen.Kitchen")).length, 1); // still registered
    assert.equal(await w.next(), "(end)"); // ended OK: the drain does not wait for it
    registry.release();
    await closing;
  } finally {
    registry.release();
    await channel.close();
    await registry.close();
  }
});

Deno.test("with workers every event loop's Watch follows setServing", async () => {
  const provider = new RpcProvider({
    workers: 2,
    workerModule: new URL("../_fixtures/kitchen_worker_module.ts", import.meta.url),
    logger: new CaptureLogger(),
  });
  await provider.start();
  // Eight connections reach both loops (SO_REUSEPORT spreads them by source port).
  const channels = Array.from(
    { length: 8 },
    () => new RpcChannel({ address: provider.address, timeoutMs: 10_000 }),
  );
  const watches = channels.map((c) => watch(c, "kitchen.Kitchen"));
  try {
    const next = () => Promise.all(watches.map((w) => w.next()));
    assert.deepEqual(new Set(await next()), new Set(["SERVING"]));
    provider.setServing(false);
    assert.deepEqual(new Set(await next()), new Set(["NOT_SERVING"]));
    provider.setServing(true);
    assert.deepEqual(new Set(await next()), new Set(["SERVING"]));
  } finally {
    await Promise.all(watches.map((w) => w.stop()));
    await Promise.all(channels.map((c) => c.close()));
    await provider.close({ graceMs: 0 });
  }
});
