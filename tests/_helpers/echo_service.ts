/** A tiny service for the observability tests: Say echoes, Fail fails with the code it is given. */
import { parseProto } from "../../src/schema/load_proto.ts";
import { RpcError } from "../../src/errors.ts";
import type { Handler } from "../../src/server/server_connection.ts";

const root = parseProto(`syntax = "proto3"; package obs;
  message Msg { string text = 1; int32 code = 2; int32 wait_ms = 3; }
  service Echo {
    rpc Say(Msg) returns (Msg);
    rpc Fail(Msg) returns (Msg);
    rpc Slow(Msg) returns (Msg);
  }`);

/** `obs.Echo`. */
export const echoService = root.lookupService("obs.Echo");

/** Its request and response. */
export interface Msg {
  text?: string;
  code?: number;
  waitMs?: number;
}

/** Say echoes; Fail throws `RpcError(code)`; Slow answers after `waitMs` (or when aborted). */
export const echoImpl: Record<string, Handler> = {
  Say: (req: Msg) => req,
  Fail: (req: Msg) => {
    throw new RpcError(req.code ?? 13, `failed with ${req.code}`);
  },
  Slow: (req: Msg, ctx) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(req), req.waitMs ?? 0);
      if (ctx.aborted) return;
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve(req);
      }, { once: true });
    }),
};
