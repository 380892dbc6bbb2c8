/**
 * `RpcProvider.use(...)`: interceptors added before `start()` run around every handler, in the
 * order they were added after those of the `interceptors` option, whether the services were
 * added before or after them.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import type { Interceptor } from "../../src/server/interceptor.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { kitchenService, type KitchenStub } from "../_helpers/kitchen.ts";

Deno.test("use() interceptors run around services added before and after them, inside the interceptors option's", async () => {
  const seen: string[] = [];
  const mark = (name: string): Interceptor => (req, ctx, next) => {
    seen.push(name);
    return next(req, ctx);
  };
  const service = await kitchenService();
  const logger = new CaptureLogger();
  const provider = new RpcProvider({ interceptors: [mark("option")], logger });
  provider.use(mark("before"));
  provider.notifyService(service, {
    Echo: (req) => {
      seen.push("handler");
      return req;
    },
  });
  provider.use(mark("after-1"), mark("after-2"));
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, logger });
  try {
    const stub = channel.stub<KitchenStub>(service);
    assert.equal((await stub.Echo({ text: "x" })).text, "x");
    assert.deepEqual(seen, ["option", "before", "after-1", "after-2", "handler"]);
  } finally {
    await channel.close();
    await provider.close({ graceMs: 0 });
  }
});

Deno.test("use() refuses a non-function, and is refused after start()", async () => {
  const provider = new RpcProvider({ logger: new CaptureLogger() });
  assert.throws(() => provider.use(42 as unknown as Interceptor), TypeError);
  await provider.start();
  try {
    assert.throws(() => provider.use((r, c, next) => next(r, c)), /before start/);
  } finally {
    await provider.close({ graceMs: 0 });
  }
});
