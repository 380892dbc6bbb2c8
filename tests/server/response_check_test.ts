import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import { loadProto } from "../../src/schema/load_proto.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { startKitchen } from "../_helpers/kitchen.ts";

Deno.test("a handler returning a response that does not fit its type yields INTERNAL naming the field, and a log line", async () => {
  const responses: Array<[unknown, string]> = [
    [{ i32: 2 ** 40 }, "i32: expected int32, got 1099511627776"],
    [{ text: { a: 1 } }, "text: expected string, got an object"],
    [{ inner: { values: ["1"] } }, `inner.values[0]: expected int32, got "1"`],
    [{ u64: -1 }, "u64: expected uint64"],
    [{ notAField: true }, "notAField: unknown field of kitchen.Everything"],
    ["text", "expected kitchen.Everything as a plain object"],
  ];
  let next: unknown;
  await using k = await startKitchen({ impl: { Echo: () => next } });
  for (const [response, message] of responses) {
    next = response;
    await assert.rejects(k.stub.Echo({}), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.code, Code.INTERNAL);
      assert.ok(e.message.includes(`kitchen.Kitchen.Echo: ${message}`), e.message);
      return true;
    });
    const logged = k.logger.find("error", "bad response");
    assert.ok(
      logged.some((l) => String(l.fields.error).includes(message)),
      JSON.stringify(logged),
    );
  }
  next = { i32: 7 };
  assert.equal((await k.stub.Echo({})).i32, 7, "the provider keeps serving");
});

Deno.test("a text errmsg for the user example's bytes field yields INTERNAL naming result.errmsg", async () => {
  const root = await loadProto(new URL("../../examples/user/user.proto", import.meta.url));
  const service = root.lookupService("fixbug.UserServiceRpc");
  const logger = new CaptureLogger();
  const provider = new RpcProvider({ logger });
  provider.notifyService(service, {
    Login: () => ({ result: { errcode: 1, errmsg: "no such user" }, success: false }),
  });
  await provider.start();
  try {
    await using channel = new RpcChannel({ address: provider.address, logger });
    const stub = channel.stub<{ Login: StubMethod }>(service);
    await assert.rejects(stub.Login({ name: new Uint8Array([1]) }), {
      code: Code.INTERNAL,
      message:
        /UserServiceRpc\.Login: result\.errmsg: expected bytes \(a Uint8Array\), got "no such user"$/,
    });
    await assert.rejects(stub.Login({ name: "zhang san" }), {
      code: Code.INVALID_ARGUMENT,
      message: /UserServiceRpc\.Login: name: expected bytes \(a Uint8Array\), got "zhang san"$/,
    });
  } finally {
    await provider.close({ graceMs: 0 });
  }
});
