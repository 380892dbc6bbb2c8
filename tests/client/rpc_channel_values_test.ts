import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcController } from "../../src/client/rpc_controller.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import { typeCodec } from "../../src/schema/method_descriptor.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { allSamples, FIDELITY_IMPL, fidelityRoot } from "../_helpers/fidelity.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { startKitchen } from "../_helpers/kitchen.ts";

const root = await fidelityRoot();
const service = root.lookupService("fidelity.Fidelity");
const allType = root.lookupType("fidelity.All");

interface FidelityStub {
  Echo: StubMethod;
  Where: StubMethod;
}

async function withProvider(
  fn: (channel: RpcChannel, provider: RpcProvider) => Promise<void>,
): Promise<void> {
  const provider = new RpcProvider({ logger: new CaptureLogger() });
  provider.notifyService(service, FIDELITY_IMPL);
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, logger: new CaptureLogger() });
  try {
    await fn(channel, provider);
  } finally {
    await channel.close();
    await provider.close({ graceMs: 0 });
  }
}

Deno.test("every field shape round-trips exactly through a stub and callMethod", async () => {
  await withProvider(async (channel) => {
    const stub = channel.stub<FidelityStub>(service);
    for (const sample of allSamples()) {
      assert.deepEqual(await stub.Echo(sample), sample);
      const controller = new RpcController();
      const res = await channel.callMethod(service.methods["Echo"]!, controller, sample);
      assert.equal(controller.failed(), false, controller.errorText());
      assert.deepEqual(res, sample);
    }
  });
});

Deno.test("every field shape round-trips exactly through rpcImpl with protobufjs's own messages", async () => {
  await withProvider(async (channel) => {
    const client = service.create(channel.rpcImpl) as unknown as {
      echo(req: unknown): Promise<unknown>;
    };
    const codec = typeCodec(allType);
    for (const sample of allSamples()) {
      const res = await client.echo(allType.decode(codec.encode(sample)));
      assert.deepEqual(codec.decode(allType.encode(res as object).finish()), sample);
    }
  });
});

Deno.test("every field shape round-trips exactly through a provider's Workers and its main thread", async () => {
  const provider = new RpcProvider({
    logger: new CaptureLogger(),
    workers: 2,
    workerModule: new URL("../_helpers/fidelity_worker.ts", import.meta.url),
  });
  await provider.start();
  const samples = allSamples();
  const served = new Set<boolean>();
  try {
    // SO_REUSEPORT spreads connections over the event loops: open them until both served.
    for (let i = 0; i < 64 && served.size < 2; i++) {
      await using channel = new RpcChannel({ address: provider.address });
      const stub = channel.stub<FidelityStub>(service);
      const { worker } = await stub.Where({});
      if (served.has(worker)) continue;
      served.add(worker);
      for (const sample of samples) assert.deepEqual(await stub.Echo(sample), sample);
    }
  } finally {
    await provider.close({ graceMs: 0 });
  }
  assert.deepEqual([...served].sort(), [false, true], "served by the main thread and a Worker");
});

Deno.test("a request that does not fit its type fails with INVALID_ARGUMENT naming the field, before anything is sent", async () => {
  await using k = await startKitchen();
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ text: { a: 1 } }, "text: expected string, got an object"],
    [{ i32: "abc" }, `i32: expected int32, got "abc"`],
    [{ i32: 2 ** 40 }, "i32: expected int32, got 1099511627776"],
    [{ items: [{}, {}, { values: [1, 1.5] }] }, "items[2].values[1]: expected int32, got 1.5"],
    [{ data: "aGk=" }, `data: expected bytes (a Uint8Array), got "aGk="`],
    [{ color: "PURPLE" }, "color: expected kitchen.Everything.Color"],
    [{ tags: "a,b" }, "tags: expected array"],
    [{ counts: { a: "x" } }, `counts["a"]: expected int64`],
    [{ unknownField: 1 }, "unknownField: unknown field of kitchen.Everything"],
  ];
  for (const [request, message] of cases) {
    await assert.rejects(k.stub.Echo(request), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, Code.INVALID_ARGUMENT);
      assert.ok(e.message.includes(`kitchen.Kitchen.Echo: ${message}`), e.message);
      return true;
    });
    const controller = new RpcController();
    await k.channel.callMethod(k.service.methods["Echo"]!, controller, request);
    assert.equal(controller.code, Code.INVALID_ARGUMENT);
    assert.ok(controller.errorText().includes(message), controller.errorText());
  }
  assert.deepEqual(k.tokens, [], "no request reached the provider");
  assert.equal(k.logger.find("warn", "bad request").length, cases.length * 2, "each is logged");
  // Nothing is sent: the same call to an address where nobody listens fails the same way.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  await using nowhere = new RpcChannel({
    address: { host: "127.0.0.1", port },
    logger: new CaptureLogger(),
  });
  const stub = nowhere.stub<{ Echo: StubMethod }>(k.service);
  await assert.rejects(stub.Echo({ i32: "abc" }), { code: Code.INVALID_ARGUMENT });
});
