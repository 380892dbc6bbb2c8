/**
 * How `notifyService` matches the keys of an implementation to methods: the `.proto` name, or
 * its lowerCamelCase alias, and a method's own name before another method's alias.
 */
import assert from "node:assert/strict";
import { ConsoleLogger, parseProto, RpcChannel, RpcProvider } from "../../mod.ts";

const quiet = new ConsoleLogger("CRITICAL");

Deno.test("a method named like another method's lowerCamelCase alias is served by its own handler", async () => {
  const service = parseProto(`syntax = "proto3"; package demo;
    message Msg { string text = 1; }
    service Twins { rpc Get(Msg) returns (Msg); rpc get(Msg) returns (Msg); }`)
    .lookupService("demo.Twins");
  await using provider = new RpcProvider({ host: "127.0.0.1", port: 0, logger: quiet });
  provider.notifyService(service, {
    Get: () => ({ text: "Get" }),
    get: () => ({ text: "get" }),
  });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address, logger: quiet });
  const stub = channel.stub(service);
  assert.equal((await stub.Get!({})).text, "Get");
  assert.equal((await stub.get!({})).text, "get");
});
