import assert from "node:assert/strict";
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import { tracingEnabled } from "../../src/observe/tracing.ts";
import { echoImpl, echoService, type Msg } from "../_helpers/echo_service.ts";

type EchoStub = Record<"Say", StubMethod<Msg, Msg>>;

Deno.test("with no tracing SDK registered, calls carry no traceparent", async () => {
  assert.equal(tracingEnabled(), false);
  let metadata: Record<string, string> | undefined;
  await using provider = new RpcProvider().notifyService(echoService, {
    ...echoImpl,
    Say: (req: Msg, ctx) => {
      metadata = ctx.metadata;
      return req;
    },
  });
  await provider.start();
  await using channel = new RpcChannel({ address: provider.address });
  await channel.stub<EchoStub>(echoService).Say({ text: "hi" }, { metadata: { user: "ann" } });
  assert.deepEqual(metadata, { user: "ann" });
});
