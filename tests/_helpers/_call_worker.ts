/**
 * Worker side of `bounded_call.ts`: makes one kitchen `Echo` call through an `RpcChannel` to a
 * given port and posts how it ended and what the channel logged, so a caller that hangs (a
 * decoder spinning in its event loop) blocks this Worker, not the test.
 */
/// <reference lib="deno.worker" />
import { RpcChannel } from "../../src/client/rpc_channel.ts";
import { RpcError } from "../../src/errors.ts";
import { CaptureLogger } from "./capture_logger.ts";
import { kitchenService } from "./kitchen.ts";
import type { CallOutcome } from "./bounded_call.ts";

self.onmessage = async (e: MessageEvent<{ port: number; timeoutMs: number }>) => {
  const logger = new CaptureLogger();
  const channel = new RpcChannel({
    address: `127.0.0.1:${e.data.port}`,
    logger,
    timeoutMs: e.data.timeoutMs,
    keepaliveMs: 0,
  });
  const started = Date.now();
  let outcome: CallOutcome;
  try {
    await channel.stub(await kitchenService()).Echo!({ text: "x" });
    outcome = { ok: true, ms: Date.now() - started, warnings: [] };
  } catch (err) {
    outcome = {
      ok: false,
      ms: Date.now() - started,
      errorName: (err as Error)?.name,
      code: err instanceof RpcError ? err.code : undefined,
      message: (err as Error)?.message,
      warnings: [],
    };
  }
  await channel.close();
  outcome.warnings = logger.problems.map((l) => ({ msg: l.msg, fields: { ...l.fields } }));
  self.postMessage(outcome);
};
