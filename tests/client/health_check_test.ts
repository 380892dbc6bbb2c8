/**
 * Channels with `healthCheck`: providers that answer other than SERVING get no new calls.
 */
import assert from "node:assert/strict";
import { RpcChannel, type RpcChannelOptions } from "../../src/client/rpc_channel.ts";
import { RpcProvider, type RpcProviderOptions } from "../../src/server/rpc_provider.ts";
import { StaticRegistry } from "../../src/registry/static_registry.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService } from "../_helpers/kitchen.ts";
import { eventually } from "../_helpers/eventually.ts";

interface Pair extends AsyncDisposable {
  a: RpcProvider;
  b: RpcProvider;
  channel: RpcChannel;
  /** Who answered each of `n` calls. */
  who(n: number): Promise<string[]>;
}

async function startPair(
  channelOptions: Partial<RpcChannelOptions>,
  aOptions: RpcProviderOptions = {},
): Promise<Pair> {
  const service = await kitchenService();
  const start = async (name: string, o: RpcProviderOptions) => {
    const p = new RpcProvider({ logger: new CaptureLogger(), ...o });
    p.notifyService(service, { Echo: (req) => ({ ...req, text: name }) });
    await p.start();
    return p;
  };
  const a = await start("a", aOptions);
  const b = await start("b", {});
  const registry = new StaticRegistry({ "kitchen.Kitchen": [a.address, b.address] });
  const logger = new CaptureLogger();
  const channel = new RpcChannel({ registry, timeoutMs: 10_000, logger, ...channelOptions });
  const stub = channel.stub(service);
  const who = async (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(String((await stub.Echo!({ text: "?" })).text));
    return out;
  };
  const close = async () => {
    await channel.close();
    await Promise.all([a.close({ graceMs: 0 }), b.close({ graceMs: 0 })]);
    await registry.close();
  };
  return { a, b, channel, who, [Symbol.asyncDispose]: close };
}

Deno.test("a channel with healthCheck sends no new calls to a provider that is not serving", async () => {
  await using p = await startPair({ healthCheck: true, keepaliveMs: 50 });
  assert.deepEqual(new Set(await p.who(10)), new Set(["a", "b"]));
  p.a.setServing(false);
  await eventually("a out of rotation", async () => (await p.who(10)).every((w) => w === "b"));
  assert.deepEqual(new Set(await p.who(20)), new Set(["b"]));
  p.a.setServing(true);
  await eventually("a back in rotation", async () => (await p.who(10)).includes("a"));
});

Deno.test("without healthCheck a provider that is not serving still gets calls", async () => {
  await using p = await startPair({ keepaliveMs: 50 });
  p.a.setServing(false);
  await new Promise((r) => setTimeout(r, 300)); // several keepalive rounds
  assert.ok((await p.who(10)).includes("a"));
});

Deno.test("healthCheck counts a provider without the health service as serving", async () => {
  await using p = await startPair({ healthCheck: true, keepaliveMs: 50 }, { health: false });
  await new Promise((r) => setTimeout(r, 300)); // several health checks answered UNIMPLEMENTED
  assert.deepEqual(new Set(await p.who(10)), new Set(["a", "b"]));
});
