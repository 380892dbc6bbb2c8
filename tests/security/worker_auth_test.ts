/**
 * Authentication with `workers`: interceptors added by the worker module's `setup(provider)`
 * guard every event loop (main thread and Workers), and interceptors that could reach the main
 * thread only are refused by `start()`.
 *
 * Handler runs are observed through a file every Echo run appends to before answering (see
 * `tests/_fixtures/kitchen_worker_module.ts`), so a run on any event loop is seen.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { tokenAuth } from "../../src/server/interceptor.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";

const MODULE = new URL("../_fixtures/kitchen_worker_module.ts", import.meta.url);
const LOOPS = ["main", "mprpc-provider-1", "mprpc-provider-2"];
const CHANNELS = 40;
const TOKENLESS_PER_CHANNEL = 5;

function moduleUrl(query: Record<string, string>): string {
  const url = new URL(MODULE);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  return url.href;
}

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return Code.OK;
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e.code;
  }
}

Deno.test("with workers, 0 of 200 token-less calls reach a handler on any event loop, and calls with the token are served by every loop", async () => {
  const dir = await Deno.makeTempDir();
  const runs = `${dir}/runs.txt`;
  await Deno.writeTextFile(runs, "");
  const provider = new RpcProvider({
    workers: LOOPS.length,
    workerModule: moduleUrl({ runs, token: "s3cret" }),
    logger: new CaptureLogger(),
  });
  const channels: RpcChannel[] = [];
  try {
    await provider.start();
    const service = await kitchenService();
    // One connection per channel: SO_REUSEPORT hands them to the event loops by their ports.
    for (let i = 0; i < CHANNELS; i++) channels.push(new RpcChannel({ address: provider.address }));
    const refusedOn = new Map<string, number>();
    await Promise.all(channels.map(async (channel, i) => {
      const stub = channel.stub<KitchenStub>(service);
      const codes: number[] = [];
      for (let j = 0; j < TOKENLESS_PER_CHANNEL; j++) {
        const none = j % 2 === 0 ? {} : { metadata: { authorization: "Bearer forged" } };
        codes.push(await codeOf(stub.Echo({ text: `anon-${i}-${j}` }, none)));
      }
      assert.deepEqual(codes, Array(TOKENLESS_PER_CHANNEL).fill(Code.UNAUTHENTICATED));
      // The same connection, with the token: names the loop that refused the calls above.
      const res = await stub.Echo({ text: `auth-${i}` }, {
        metadata: { authorization: "Bearer s3cret" },
      });
      refusedOn.set(res.text, (refusedOn.get(res.text) ?? 0) + TOKENLESS_PER_CHANNEL);
    }));
    const lines = (await Deno.readTextFile(runs)).split("\n").filter((l) => l !== "");
    assert.deepEqual(lines.filter((l) => l.includes(" anon-")), [], "no token-less call ran");
    assert.equal(lines.length, CHANNELS, "every call with the token ran once");
    const servedBy = new Set(lines.map((l) => l.split(" ")[0]));
    assert.deepEqual([...servedBy].sort(), LOOPS, "the main thread and every Worker served");
    assert.deepEqual([...refusedOn.keys()].sort(), LOOPS, "every loop refused token-less calls");
    assert.equal([...refusedOn.values()].reduce((a, b) => a + b), CHANNELS * TOKENLESS_PER_CHANNEL);
  } finally {
    await Promise.all(channels.map((c) => c.close()));
    await provider.close({ graceMs: 0 });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with workers, start() throws naming the interceptors option when interceptors are only in the main provider's options", async () => {
  const provider = new RpcProvider({
    workers: 2,
    workerModule: moduleUrl({}),
    interceptors: [tokenAuth({ verify: () => true })],
    logger: new CaptureLogger(),
  });
  await assert.rejects(provider.start(), (e: unknown) => {
    assert.ok(e instanceof TypeError, String(e));
    assert.match(e.message, /interceptors option/);
    assert.match(e.message, /setup\(provider\)/);
    assert.match(e.message, /provider\.use/);
    return true;
  });
  assert.throws(() => provider.address, /not listening/, "nothing was left listening");
  await provider.close({ graceMs: 0 });
});

Deno.test("with workers, start() throws when interceptors or services were added outside setup(provider)", async () => {
  const used = new RpcProvider({ workers: 2, workerModule: moduleUrl({}) });
  used.use(tokenAuth({ verify: () => true }));
  await assert.rejects(used.start(), TypeError, "use() was called outside");
  assert.throws(() => used.address, /not listening/);
  await used.close({ graceMs: 0 });

  const served = new RpcProvider({ workers: 2, workerModule: moduleUrl({}) });
  served.notifyService(await kitchenService(), { Echo: (req) => req });
  await assert.rejects(served.start(), TypeError, "kitchen.Kitchen");
  await served.close({ graceMs: 0 });
});
