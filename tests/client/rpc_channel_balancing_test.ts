import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";
import { deadPort } from "../_helpers/raw_tcp.ts";

/** Starts `n` Echo providers; each answers with its own name in `text` and counts its calls. */
async function startProviders(n: number) {
  const service = await kitchenService();
  const providers: Array<{ provider: RpcProvider; name: string; calls: number }> = [];
  for (let i = 0; i < n; i++) {
    const entry = {
      provider: new RpcProvider({ logger: new CaptureLogger() }),
      name: `p${i}`,
      calls: 0,
    };
    entry.provider.notifyService(service, {
      Echo: () => {
        entry.calls++;
        return { text: entry.name };
      },
    });
    await entry.provider.start();
    providers.push(entry);
  }
  return {
    providers,
    service,
    async close() {
      await Promise.all(providers.map((p) => p.provider.close({ graceMs: 0 })));
    },
  };
}

function addressOf(p: RpcProvider): string {
  return `${p.address.host}:${p.address.port}`;
}

Deno.test("a provider that is down is skipped transparently: every call succeeds", async () => {
  const set = await startProviders(1);
  const down = deadPort();
  const logger = new CaptureLogger();
  const registry = new StaticRegistry({
    "kitchen.Kitchen": [`127.0.0.1:${down}`, addressOf(set.providers[0]!.provider)],
  });
  const channel = new RpcChannel({ registry, logger });
  try {
    const stub = channel.stub<KitchenStub>(set.service);
    const results = await Promise.all(Array.from({ length: 10 }, () => stub.Echo({})));
    for (let i = 0; i < 20; i++) results.push(await stub.Echo({}));
    assert.ok(results.every((r) => r.text === "p0"));
    assert.equal(set.providers[0]!.calls, 30);
    const warned = logger.find("warn", "provider unreachable");
    assert.ok(warned.length >= 1);
    assert.equal(warned[0]!.fields.provider, `127.0.0.1:${down}`);
  } finally {
    await channel.close();
    await set.close();
  }
});

Deno.test("consistent_hash sends a key to the same provider every time", async () => {
  const set = await startProviders(3);
  const registry = new StaticRegistry({
    "kitchen.Kitchen": set.providers.map((p) => addressOf(p.provider)),
  });
  const channel = new RpcChannel({
    registry,
    logger: new CaptureLogger(),
    loadBalancer: "consistent_hash",
    hashKey: "user",
  });
  try {
    const stub = channel.stub<KitchenStub>(set.service);
    for (const user of ["alice", "bob", "carol", "dave"]) {
      const first = (await stub.Echo({}, { metadata: { user } })).text;
      for (let i = 0; i < 5; i++) {
        assert.equal((await stub.Echo({}, { metadata: { user } })).text, first, user);
      }
      assert.equal((await stub.Echo({}, { hashKey: user })).text, first, "per-call hashKey");
    }
  } finally {
    await channel.close();
    await set.close();
  }
});

Deno.test("a service with no providers fails UNAVAILABLE naming the service", async () => {
  const service = await kitchenService();
  const channel = new RpcChannel({ registry: new StaticRegistry(), logger: new CaptureLogger() });
  try {
    await assert.rejects(channel.stub<KitchenStub>(service).Echo({}), (e: unknown) => {
      assert.equal((e as { codeName: string }).codeName, "UNAVAILABLE");
      assert.match((e as Error).message, /no provider available for service kitchen\.Kitchen/);
      return true;
    });
  } finally {
    await channel.close();
  }
});

// --- Regression guards (fixed in c994d2b): the fast path of RpcChannel#send once asked the
// balancer, found the picked provider not yet connected, and fell back to #sendSlow, which
// asked the balancer *again*; with round robin the second provider was never connected.

Deno.test("a channel on a StaticRegistry with two providers spreads calls over both", async () => {
  const set = await startProviders(2);
  const registry = new StaticRegistry({
    "kitchen.Kitchen": set.providers.map((p) => addressOf(p.provider)),
  });
  const channel = new RpcChannel({ registry, logger: new CaptureLogger() });
  try {
    const stub = channel.stub<KitchenStub>(set.service);
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push((await stub.Echo({})).text);
    assert.deepEqual(set.providers.map((p) => p.calls), [10, 10]);
    assert.equal(answers.filter((a) => a === "p0").length, 10);
    // Concurrent calls spread too.
    await Promise.all(Array.from({ length: 40 }, () => stub.Echo({})));
    assert.deepEqual(set.providers.map((p) => p.calls), [30, 30]);
    for (const p of set.providers) assert.equal(p.provider.connectionCount, 1);
  } finally {
    await channel.close();
    await registry.close();
    await set.close();
  }
});

Deno.test("weights from the registry skew the spread", async () => {
  const set = await startProviders(2);
  const registry = new StaticRegistry({
    "kitchen.Kitchen": [
      { ...set.providers[0]!.provider.address, weight: 3 },
      { ...set.providers[1]!.provider.address, weight: 1 },
    ],
  });
  const channel = new RpcChannel({ registry, logger: new CaptureLogger() });
  try {
    const stub = channel.stub<KitchenStub>(set.service);
    for (let i = 0; i < 40; i++) await stub.Echo({});
    assert.deepEqual(set.providers.map((p) => p.calls), [30, 10]);
  } finally {
    await channel.close();
    await set.close();
  }
});

Deno.test("providers registering and leaving are followed through the registry's watch", async () => {
  const set = await startProviders(2);
  const registry = new StaticRegistry();
  const [a, b] = set.providers;
  const regA = { service: "kitchen.Kitchen", methods: ["Echo"], ...a!.provider.address };
  const regB = { service: "kitchen.Kitchen", methods: ["Echo"], ...b!.provider.address };
  await registry.register(regA);
  const channel = new RpcChannel({ registry, logger: new CaptureLogger() });
  try {
    const stub = channel.stub<KitchenStub>(set.service);
    for (let i = 0; i < 4; i++) assert.equal((await stub.Echo({})).text, "p0");
    await registry.register(regB);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await stub.Echo({})).text);
    assert.deepEqual([...seen].sort(), ["p0", "p1"]);
    await registry.unregister(regA);
    for (let i = 0; i < 4; i++) assert.equal((await stub.Echo({})).text, "p1");
  } finally {
    await channel.close();
    await set.close();
  }
});
