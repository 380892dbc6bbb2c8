import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import {
  ghostService,
  kitchenService,
  type KitchenStub,
  startKitchen,
} from "../_helpers/kitchen.ts";
import { isCode } from "../_helpers/is_code.ts";

/** The provider still serves: on the same channel and on a brand-new connection. */
async function stillServes(k: { stub: KitchenStub; provider: RpcProvider }, label: string) {
  assert.equal((await k.stub.Echo({ text: `${label} same` })).text, `${label} same`);
  await using fresh = new RpcChannel({ address: k.provider.address, logger: new CaptureLogger() });
  const stub = fresh.stub<KitchenStub>(await kitchenService());
  assert.equal((await stub.Echo({ text: `${label} new` })).text, `${label} new`);
}

Deno.test("a service the provider does not serve answers UNIMPLEMENTED", async () => {
  await using k = await startKitchen();
  const ghost = k.channel.stub(ghostService());
  await assert.rejects(
    ghost.Haunt!({ text: "boo" }),
    isCode(Code.UNIMPLEMENTED, /unknown service "ghost\.Ghost"/),
  );
  const line = await k.logger.waitFor("warn", "unimplemented call");
  assert.match(String(line.fields.reason), /ghost\.Ghost/);
  await stillServes(k, "after unknown service");
});

Deno.test("a method missing from the implementation answers UNIMPLEMENTED", async () => {
  await using k = await startKitchen();
  await assert.rejects(
    k.stub.Unimplemented({}),
    isCode(Code.UNIMPLEMENTED, 'unknown method "Unimplemented" of service "kitchen.Kitchen"'),
  );
  await stillServes(k, "after unknown method");
});

Deno.test("a handler throwing RpcError answers with its code, message and metadata", async () => {
  await using k = await startKitchen();
  await assert.rejects(
    k.stub.Fail({ mode: "rpc", code: Code.NOT_FOUND, message: "x" }),
    (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, Code.NOT_FOUND);
      assert.equal(e.message, "x");
      assert.deepEqual(e.metadata, { where: "kitchen" });
      return true;
    },
  );
  await assert.rejects(
    k.stub.Fail({ mode: "rpc", code: Code.FAILED_PRECONDITION, message: "ünïcode ✗" }),
    isCode(Code.FAILED_PRECONDITION, "ünïcode ✗"),
  );
  assert.deepEqual(
    k.logger.find("error", "handler failed"),
    [],
    "an RpcError is not a provider error",
  );
  await stillServes(k, "after RpcError");
});

Deno.test("any other throw, or a rejected promise, answers INTERNAL with its message", async () => {
  await using k = await startKitchen();
  await assert.rejects(
    k.stub.Fail({ mode: "throw", message: "kaboom" }),
    isCode(Code.INTERNAL, "kaboom"),
  );
  await assert.rejects(
    k.stub.Fail({ mode: "reject", message: "rejected!" }),
    isCode(Code.INTERNAL, "rejected!"),
  );
  await assert.rejects(
    k.stub.Fail({ mode: "string", message: "bare string" }),
    isCode(Code.INTERNAL, "bare string"),
  );
  const logged = k.logger.find("error", "handler failed");
  assert.deepEqual(logged.map((l) => l.fields.error), ["kaboom", "rejected!", "bare string"]);
  assert.equal(logged[0]!.fields.method, "kitchen.Kitchen.Fail");
  await stillServes(k, "after INTERNAL");
});

Deno.test("a response that cannot be encoded answers INTERNAL naming the type", async () => {
  await using k = await startKitchen({
    impl: { Echo: (req: { text: string }) => req.text === "bad" ? { inner: 12345 } : req },
  });
  await assert.rejects(
    k.stub.Echo({ text: "bad" }),
    isCode(Code.INTERNAL, /cannot encode kitchen\.Everything returned by kitchen\.Kitchen\.Echo/),
  );
  await stillServes(k, "after bad response");
});

Deno.test("an undecodable request answers INVALID_ARGUMENT and the provider goes on", async () => {
  await using k = await startKitchen();
  const echo = k.service.methods["Echo"]!;
  const garbage = [
    new Uint8Array([0x0f, 0x01]), // field 1 with wire type 7
    new Uint8Array([0x12, 0x7f, 0x01]), // bytes field claiming 127 bytes
    new Uint8Array([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), // varint too long
  ];
  for (const bytes of garbage) {
    const err = await new Promise<unknown>((resolve) =>
      k.channel.rpcImpl(echo, bytes, (e) => resolve(e))
    );
    isCode(Code.INVALID_ARGUMENT, /cannot decode kitchen\.Everything for kitchen\.Kitchen\.Echo/)(
      err,
    );
  }
  assert.equal(k.logger.find("warn", "bad request").length, garbage.length);
  await stillServes(k, "after garbage request");
});

Deno.test("notifyService names an unknown method in a TypeError, and refuses non-functions", async () => {
  const service = await kitchenService();
  const provider = new RpcProvider({ logger: new CaptureLogger() });
  assert.throws(
    () => provider.notifyService(service, { Cook: () => ({}) }),
    (e: unknown) =>
      e instanceof TypeError && /kitchen\.Kitchen has no method "Cook"/.test(e.message) &&
      /Echo, Sleep, Fail, Unimplemented/.test(e.message),
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => provider.notifyService(service, { Echo: "not a function" as any }),
    (e: unknown) =>
      e instanceof TypeError && /kitchen\.Kitchen\.Echo is not a function/.test(e.message),
  );
  await provider.close();
});

Deno.test("notifyService accepts the lowerCamelCase method name", async () => {
  await using k = await startKitchen({
    impl: { echo: (req: { text: string }) => ({ text: `camel ${req.text}` }) },
  });
  assert.equal((await k.stub.Echo({ text: "x" })).text, "camel x");
});

Deno.test("notifyService after start() is refused", async () => {
  await using k = await startKitchen();
  assert.throws(
    () => k.provider.notifyService(k.service, {}),
    (e: unknown) => e instanceof TypeError && /before start/.test(e.message),
  );
});

Deno.test("provider gone: a call to a closed provider fails UNAVAILABLE promptly", async () => {
  await using k = await startKitchen();
  assert.equal((await k.stub.Echo({ text: "before" })).text, "before");
  await k.provider.close();
  const t0 = Date.now();
  await assert.rejects(
    k.stub.Echo({ text: "after" }, { timeoutMs: 10_000 }),
    isCode(Code.UNAVAILABLE),
  );
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
});

Deno.test("close({ graceMs }) lets an in-flight call finish, refuses new work, and leaves nothing open", async () => {
  await using k = await startKitchen();
  const { port } = k.provider.address;
  const inflight = k.stub.Sleep({ ms: 200, token: "grace" });
  await k.events.wait("started:grace");
  assert.equal(k.provider.inflight, 1);
  const closing = k.provider.close({ graceMs: 3000 });
  assert.equal(k.provider.close({ graceMs: 1 }), closing, "close() is idempotent");
  // New work is refused while draining, on the old connection or a new one.
  await assert.rejects(k.stub.Echo({ text: "late" }), isCode(Code.UNAVAILABLE));
  assert.deepEqual(await inflight, { token: "grace", aborted: false, reason: "" });
  await closing;
  assert.equal(k.provider.connectionCount, 0);
  assert.equal(k.provider.inflight, 0);
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    (e: unknown) => e instanceof Deno.errors.ConnectionRefused,
  );
  await k.provider.close();
});

Deno.test("close({ graceMs }) fails calls still running after the grace with UNAVAILABLE", async () => {
  await using k = await startKitchen();
  const call = k.stub.Sleep({ ms: 10_000, token: "stuck" });
  await k.events.wait("started:stuck");
  const failed = assert.rejects(
    call,
    isCode(Code.UNAVAILABLE, /shut down before the call finished/),
  );
  const t0 = Date.now();
  await k.provider.close({ graceMs: 50 });
  assert.ok(Date.now() - t0 < 1000);
  await failed;
  const reason = await k.events.wait<RpcError>("aborted:stuck");
  assert.equal(reason.code, Code.UNAVAILABLE);
});

Deno.test("run() resolves once the provider is closed", async () => {
  const service = await kitchenService();
  const provider = new RpcProvider({ logger: new CaptureLogger() });
  provider.notifyService(service, { Echo: (r: unknown) => r });
  let ran = false;
  const running = provider.run().then(() => ran = true);
  await provider.start();
  assert.equal(ran, false);
  await provider.close();
  await running;
  assert.equal(ran, true);
});

Deno.test("a provider with a registry registers on start and unregisters on close", async () => {
  const registry = new StaticRegistry();
  const service = await kitchenService();
  const provider = new RpcProvider({ registry, logger: new CaptureLogger(), weight: 3 });
  provider.notifyService(service, { Echo: (r: unknown) => r, Sleep: () => ({}) });
  await provider.start();
  try {
    assert.deepEqual(await registry.resolve("kitchen.Kitchen"), [{
      host: "127.0.0.1",
      port: provider.address.port,
      weight: 3,
      methods: ["Echo", "Sleep"],
    }]);
    assert.deepEqual(provider.services, ["kitchen.Kitchen"]);
  } finally {
    await provider.close();
  }
  assert.deepEqual(await registry.resolve("kitchen.Kitchen"), []);
});

Deno.test("the handler sees the caller's deadline, and metadata it sets goes back as trailers", async () => {
  let seen: CallContext | undefined;
  await using k = await startKitchen({
    impl: {
      Fail(_req: unknown, ctx: CallContext) {
        seen = ctx;
        ctx.responseMetadata["trace-id"] = "t-1";
        throw new RpcError(Code.ABORTED, "conflict", { metadata: { retry: "later" } });
      },
    },
  });
  const before = Date.now();
  await assert.rejects(k.stub.Fail({}, { timeoutMs: 5000 }), (e: unknown) => {
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, Code.ABORTED);
    assert.deepEqual(e.metadata, { retry: "later", "trace-id": "t-1" });
    return true;
  });
  assert.ok(seen !== undefined && seen.deadline !== undefined);
  assert.ok(
    seen.deadline >= before + 4900 && seen.deadline <= Date.now() + 5000,
    `deadline ${seen.deadline}`,
  );
});
