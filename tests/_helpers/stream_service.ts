/**
 * A tiny streaming service for the observability tests: Count is a server stream, Chat a
 * bidirectional one.
 */
import type { CallOptions } from "../../src/client/call_options.ts";
import { parseProto } from "../../src/schema/load_proto.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import type { Handler } from "../../src/server/server_connection.ts";

const root = parseProto(`syntax = "proto3"; package obs;
  message Tick { int32 n = 1; int32 hold_ms = 2; }
  service Streams {
    rpc Count(Tick) returns (stream Tick);
    rpc Chat(stream Tick) returns (stream Tick);
  }`);

/** `obs.Streams`. */
export const streamService = root.lookupService("obs.Streams");

/** Its message. */
export interface Tick {
  n?: number;
  holdMs?: number;
}

/** The stub of `obs.Streams`. */
export interface StreamsStub {
  Count(req: Tick, options?: CallOptions): AsyncIterable<Tick>;
  Chat(reqs: Iterable<Tick> | AsyncIterable<Tick>): AsyncIterable<Tick>;
}

/**
 * Count answers `1..n`, then, with `holdMs`, keeps the stream open that long (or until the caller
 * cancels) before ending it; Chat answers every request with itself.
 */
export const streamImpl: Record<string, Handler> = {
  async *Count(req: Tick, ctx: CallContext) {
    for (let i = 1; i <= (req.n ?? 0); i++) yield { n: i };
    const holdMs = req.holdMs ?? 0;
    if (holdMs <= 0 || ctx.aborted) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, holdMs);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  },
  async *Chat(reqs: AsyncIterable<Tick>) {
    for await (const r of reqs) yield { n: r.n ?? 0 };
  },
};
