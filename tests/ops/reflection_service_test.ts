/**
 * The built-in reflection service: a caller without the `.proto` learns it from the provider
 * and calls the service with it.
 */
import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { reflectionService } from "../../src/ops/reflection_service.ts";
import {
  decodeFileDescriptors,
  rootFromFileDescriptors,
} from "../../src/schema/file_descriptors.ts";
import { loadProto } from "../../src/schema/load_proto.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";
import { startKitchen } from "../_helpers/kitchen.ts";

type ReflectionStub = {
  ListServices(req: object): Promise<{ services: string[] }>;
  FileContainingService(req: { service: string }): Promise<{ fileDescriptorProto: Uint8Array[] }>;
};

function reflection(channel: RpcChannel): ReflectionStub {
  return channel.stub<ReflectionStub>(reflectionService());
}

Deno.test("ListServices names the provider's services and the built-in ones, sorted", async () => {
  await using k = await startKitchen();
  assert.deepEqual((await reflection(k.channel).ListServices({})).services, [
    "kitchen.Kitchen",
    "mprpc.health.v1.Health",
    "mprpc.reflection.v1.Reflection",
  ]);
});

Deno.test("a service rebuilt from its reflected descriptors is called with every field kind", async () => {
  await using k = await startKitchen();
  const { fileDescriptorProto } = await reflection(k.channel).FileContainingService({
    service: "kitchen.Kitchen",
  });
  const root = rootFromFileDescriptors(fileDescriptorProto);
  const stub = k.channel.stub(root.lookupService("kitchen.Kitchen"));
  const request = {
    text: "héllo",
    data: new Uint8Array([0, 1, 255]),
    i64: "-9223372036854775808",
    u64: "18446744073709551615",
    color: "BLUE",
    inner: { label: "in", values: [1, -2] },
    items: [{ label: "a", values: [] }],
    tags: ["x", "y"],
    counts: { "k": "42" },
  };
  const res = await stub.Echo!(request);
  assert.equal(res.text, "héllo");
  assert.deepEqual(res.data, new Uint8Array([0, 1, 255]));
  assert.equal(res.i64, "-9223372036854775808");
  assert.equal(res.u64, "18446744073709551615");
  assert.equal(res.color, "BLUE");
  assert.deepEqual(res.inner, { label: "in", values: [1, -2] });
  assert.deepEqual(res.counts, { k: "42" });
  assert.deepEqual(res.tags, ["x", "y"]);
});

Deno.test("reflection sends the service's file first, then the files it imports", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_reflect_" });
  try {
    await Deno.writeTextFile(
      `${dir}/common.proto`,
      `syntax = "proto3"; package shop.common; message Money { int64 cents = 1; string currency = 2; }`,
    );
    await Deno.writeTextFile(
      `${dir}/orders.proto`,
      `syntax = "proto3"; package shop;
       import "common.proto"; import "google/protobuf/timestamp.proto";
       message Order { string id = 1; shop.common.Money total = 2; google.protobuf.Timestamp at = 3; }
       message Get { string id = 1; }
       service Orders { rpc Find(Get) returns (Order); }`,
    );
    const loaded = await loadProto(`${dir}/orders.proto`);
    const provider = new RpcProvider({ logger: new CaptureLogger() });
    provider.notifyService(loaded.lookupService("shop.Orders"), {
      Find: (req) => ({
        id: req.id,
        total: { cents: "1999", currency: "EUR" },
        at: { seconds: "1700000000", nanos: 5 },
      }),
    });
    await provider.start();
    const channel = new RpcChannel({ address: provider.address, timeoutMs: 10_000 });
    try {
      const { fileDescriptorProto } = await reflection(channel).FileContainingService({
        service: "shop.Orders",
      });
      const files = decodeFileDescriptors(fileDescriptorProto);
      assert.deepEqual(files.map((f) => f.name), [
        "orders.proto",
        "common.proto",
        "google/protobuf/timestamp.proto",
      ]);
      assert.deepEqual(files[0].dependency, ["common.proto", "google/protobuf/timestamp.proto"]);
      const root = rootFromFileDescriptors(fileDescriptorProto);
      const res = await channel.stub(root.lookupService("shop.Orders")).Find!({ id: "o-1" });
      assert.deepEqual(res, {
        id: "o-1",
        total: { cents: "1999", currency: "EUR" },
        at: { seconds: "1700000000", nanos: 5 },
      });
    } finally {
      await channel.close();
      await provider.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("FileContainingService answers NOT_FOUND for a service the provider does not serve", async () => {
  await using k = await startKitchen();
  await assert.rejects(
    reflection(k.channel).FileContainingService({ service: "no.Such" }),
    (e) => e instanceof RpcError && e.code === Code.NOT_FOUND && /no\.Such/.test(e.message),
  );
});
