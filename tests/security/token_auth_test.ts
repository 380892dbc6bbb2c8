/**
 * Token authentication with the `tokenAuth` interceptor: no token or a bad one is
 * UNAUTHENTICATED, a genuine token calling a method it may not call is PERMISSION_DENIED, and
 * in both cases the handler never runs.
 */
import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { Code, RpcError } from "../../src/errors.ts";
import { tokenAuth } from "../../src/server/interceptor.ts";
import { type KitchenStub, startKitchen } from "../_helpers/kitchen.ts";

const TOKENS: Record<string, string[]> = {
  "admin-token": ["Echo", "Sleep", "Fail"],
  "reader-token": ["Echo"],
};

function authKitchen() {
  return startKitchen({
    provider: {
      interceptors: [tokenAuth({
        verify: (token) => Object.hasOwn(TOKENS, token),
        allow: (token, ctx) => TOKENS[token]!.includes(ctx.method),
      })],
    },
  });
}

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return Code.OK;
  } catch (e) {
    assert.ok(e instanceof RpcError, String(e));
    return e.code;
  }
}

Deno.test("tokenAuth: no token or a bad token is UNAUTHENTICATED and the handler never runs", async () => {
  await using k = await authKitchen();
  assert.equal(await code(k.stub.Echo({ text: "none" })), Code.UNAUTHENTICATED);
  const bad = { metadata: { authorization: "Bearer not-a-token" } };
  assert.equal(await code(k.stub.Echo({ text: "bad" }, bad)), Code.UNAUTHENTICATED);
  const empty = { metadata: { authorization: "" } };
  assert.equal(await code(k.stub.Echo({ text: "empty" }, empty)), Code.UNAUTHENTICATED);
  assert.deepEqual(k.tokens, []);
});

Deno.test("tokenAuth: a genuine token calling a forbidden method is PERMISSION_DENIED", async () => {
  await using k = await authKitchen();
  const reader = { metadata: { authorization: "Bearer reader-token" } };
  await assert.rejects(k.stub.Sleep({ ms: 1, token: "nope" }, reader), (e: unknown) => {
    assert.ok(e instanceof RpcError);
    assert.equal(e.code, Code.PERMISSION_DENIED);
    assert.match(e.message, /kitchen\.Kitchen\.Sleep/);
    return true;
  });
  assert.deepEqual(k.tokens, []);
  assert.equal((await k.stub.Echo({ text: "read" }, reader)).text, "read");
});

Deno.test("tokenAuth: a good token is accepted, with or without the Bearer prefix, per call or per channel", async () => {
  await using k = await authKitchen();
  const admin = { metadata: { authorization: "Bearer admin-token" } };
  assert.equal((await k.stub.Sleep({ ms: 1, token: "t1" }, admin)).token, "t1");
  const bare = { metadata: { authorization: "admin-token" } };
  assert.equal((await k.stub.Echo({ text: "bare" }, bare)).text, "bare");
  await using channel = new RpcChannel({
    address: k.provider.address,
    metadata: { authorization: "Bearer admin-token" },
  });
  const stub = channel.stub<KitchenStub>(k.service);
  assert.equal((await stub.Echo({ text: "channel" })).text, "channel");
  // A call's own metadata wins over the channel's.
  const worse = { metadata: { authorization: "Bearer forged" } };
  assert.equal(await code(stub.Echo({ text: "forged" }, worse)), Code.UNAUTHENTICATED);
  assert.deepEqual(k.tokens, ["t1", "bare", "channel"]);
});
