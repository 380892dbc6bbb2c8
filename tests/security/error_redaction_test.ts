/**
 * What a failing handler reveals to callers: a plain Error's message travels to the caller
 * (documented in docs/security.md), and an interceptor can redact it.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import type { Interceptor } from "../../src/server/interceptor.ts";
import { startKitchen } from "../_helpers/kitchen.ts";

const SECRET = "connect ECONNREFUSED 10.9.8.7:5432 (user=billing)";

async function failure(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e;
  }
  throw new assert.AssertionError({ message: "the call succeeded" });
}

Deno.test("a handler's plain Error reaches the caller as INTERNAL with its message", async () => {
  await using k = await startKitchen();
  const e = await failure(k.stub.Fail({ mode: "throw", message: SECRET }));
  assert.equal(e.code, Code.INTERNAL);
  assert.equal(e.message, SECRET);
});

Deno.test("an interceptor can redact unexpected handler errors; RpcErrors pass unchanged", async () => {
  const redact: Interceptor = async (req, ctx, next) => {
    try {
      return await next(req, ctx);
    } catch (err) {
      if (err instanceof RpcError) throw err;
      throw new RpcError(Code.INTERNAL, "internal error", { cause: err });
    }
  };
  await using k = await startKitchen({ provider: { interceptors: [redact] } });
  for (const mode of ["throw", "reject", "string"]) {
    const e = await failure(k.stub.Fail({ mode, message: SECRET }));
    assert.equal(e.code, Code.INTERNAL, mode);
    assert.equal(e.message, "internal error", mode);
  }
  const meant = await failure(
    k.stub.Fail({ mode: "rpc", code: Code.NOT_FOUND, message: "no such user" }),
  );
  assert.equal(meant.code, Code.NOT_FOUND);
  assert.equal(meant.message, "no such user");
});
