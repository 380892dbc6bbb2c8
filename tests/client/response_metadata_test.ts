/**
 * The response metadata of a successful call (the handler's `ctx.responseMetadata`) reaches the
 * caller: `onResponseMetadata` on stubs and `createRpcImpl`, `RpcController.responseMetadata` on
 * `callMethod`.
 */
import assert from "node:assert/strict";
import { RpcController } from "../../src/client/rpc_controller.ts";
import { Code, RpcError } from "../../src/errors.ts";
import type { Message } from "../../src/schema/method_descriptor.ts";
import { FrameDecoder } from "../../src/wire/frame.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { Kind, type RpcMeta } from "../../src/wire/meta.ts";
import { startKitchen } from "../_helpers/kitchen.ts";

// Kitchen's Echo copies the request metadata into ctx.responseMetadata.

Deno.test("a stub call that succeeds hands the handler's response metadata to onResponseMetadata", async () => {
  await using k = await startKitchen();
  const seen: Record<string, string>[] = [];
  const res = await k.stub.Echo({ text: "hi" }, {
    metadata: { "served-by": "node-1", "x-trace": "abc" },
    onResponseMetadata: (md) => seen.push(md),
  });
  assert.equal(res.text, "hi");
  assert.deepEqual(seen, [{ "served-by": "node-1", "x-trace": "abc" }]);
});

Deno.test("onResponseMetadata gets {} when the handler set none, and is not called on failure", async () => {
  await using k = await startKitchen();
  const seen: Record<string, string>[] = [];
  await k.stub.Echo({ text: "plain" }, { onResponseMetadata: (md) => seen.push(md) });
  assert.deepEqual(seen, [{}]);
  await assert.rejects(
    k.stub.Fail({ mode: "rpc", code: Code.NOT_FOUND, message: "gone" }, {
      onResponseMetadata: (md) => seen.push(md),
    }),
    (e) => e instanceof RpcError && e.metadata["where"] === "kitchen",
  );
  assert.equal(seen.length, 1);
});

Deno.test("an onResponseMetadata that throws rejects the call with that error", async () => {
  await using k = await startKitchen();
  const boom = new Error("callback failed");
  await assert.rejects(
    k.stub.Echo({}, {
      onResponseMetadata: () => {
        throw boom;
      },
    }),
    (e) => e === boom,
  );
});

Deno.test("callMethod puts the response metadata on the RpcController, on success and on failure", async () => {
  await using k = await startKitchen();
  const controller = new RpcController();
  const calls: Record<string, string>[] = [];
  const res = await k.channel.callMethod(k.service.methods["Echo"]!, controller, { text: "c" }, {
    metadata: { "served-by": "node-2" },
    onResponseMetadata: (md) => calls.push(md),
  });
  assert.equal(res?.text, "c");
  assert.equal(controller.failed(), false);
  assert.deepEqual(controller.responseMetadata, { "served-by": "node-2" });
  assert.deepEqual(calls, [{ "served-by": "node-2" }], "the caller's own callback runs too");

  await k.channel.callMethod(k.service.methods["Fail"]!, controller, {
    mode: "rpc",
    code: Code.ABORTED,
    message: "no",
  });
  assert.equal(controller.code, Code.ABORTED);
  assert.deepEqual(controller.responseMetadata, { where: "kitchen" });
  controller.reset();
  assert.deepEqual(controller.responseMetadata, {});
});

Deno.test("channel.createRpcImpl(options) delivers response metadata to protobufjs Service.create callers", async () => {
  await using k = await startKitchen();
  const seen: Record<string, string>[] = [];
  const rpcImpl = k.channel.createRpcImpl({
    metadata: { "served-by": "node-3" },
    onResponseMetadata: (md) => seen.push(md),
  });
  // deno-lint-ignore no-explicit-any
  const svc = k.service.create(rpcImpl) as any;
  const res: Message = await svc.echo({ text: "via rpcImpl" });
  assert.equal(res.text, "via rpcImpl");
  assert.deepEqual(seen, [{ "served-by": "node-3" }]);
  // The plain getter keeps working, with the channel's defaults.
  // deno-lint-ignore no-explicit-any
  const plain = k.service.create(k.channel.rpcImpl) as any;
  assert.equal((await plain.echo({ text: "x" })).text, "x");
});

Deno.test("a RESPONSE frame with status OK carries metadata (field 8) on the wire", () => {
  const w = new FrameWriter();
  w.writeFrame(
    { kind: Kind.RESPONSE, callId: 7, metadata: { "served-by": "node-1" } },
    new Uint8Array([1, 2, 3]),
  );
  const got: RpcMeta[] = [];
  new FrameDecoder(1 << 20, (meta) => got.push(meta)).push(w.take());
  assert.equal(got.length, 1);
  assert.equal(got[0]!.status, 0);
  assert.deepEqual(got[0]!.metadata, { "served-by": "node-1" });
});
