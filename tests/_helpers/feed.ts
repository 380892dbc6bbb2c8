/**
 * The streaming service of `tests/_fixtures/feed.proto`, served by a real provider on 127.0.0.1
 * with a channel pointed at it.
 *
 * - `Count` yields `{ n: 1 }` .. `{ n: count }`, waiting `delay_ms` between messages; it fires
 *   `aborted:<token>` (with `ctx.signal.reason` and the time) when its signal aborts and
 *   `finally:<token>` when the generator is closed.
 * - `Blobs` yields `count` messages of `size` bytes.
 * - `Sum` adds the numbers of its request stream; `Echo` sends each request back.
 * - `Get` (unary) answers its request.
 *
 * @module
 */
import { RpcChannel, type RpcChannelOptions } from "../../src/client/rpc_channel.ts";
import type {
  BidiStreamMethod,
  ClientStreamMethod,
  ServerStreamMethod,
  StubMethod,
} from "../../src/client/call_options.ts";
import { loadProto, type Root } from "../../src/schema/load_proto.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider, type RpcProviderOptions } from "../../src/server/rpc_provider.ts";
import type { Handler } from "../../src/server/server_connection.ts";
import type { protobuf } from "../../src/deps.ts";
import { CaptureLogger } from "./capture_logger.ts";
import { Events } from "./kitchen.ts";

/** A number message. */
export interface Num {
  n: number;
  loop?: string;
}

/** A Tick request. */
export interface Tick {
  count?: number;
  size?: number;
  delayMs?: number;
  token?: string;
}

/** The stub of `feed.Feed`. */
export interface FeedStub {
  Count: ServerStreamMethod<Tick, Num>;
  Blobs: ServerStreamMethod<Tick, { seq: number; data: Uint8Array }>;
  Sum: ClientStreamMethod<Num, Num>;
  Echo: BidiStreamMethod<Num, Num>;
  Get: StubMethod<Num, Num>;
}

let rootPromise: Promise<Root> | undefined;

/** `feed.Feed` (loaded once per test file). */
export async function feedService(): Promise<protobuf.Service> {
  rootPromise ??= loadProto(new URL("../_fixtures/feed.proto", import.meta.url));
  return (await rootPromise).lookupService("feed.Feed");
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
    if (signal.aborted) done();
  });
}

/** Handlers of `feed.Feed` recording into `events`. */
export function feedImpl(events: Events): Record<string, Handler> {
  return {
    async *Count(req: Tick, ctx: CallContext) {
      const token = req.token ?? "";
      const signal = ctx.signal;
      signal.addEventListener("abort", () => {
        events.fire(`aborted:${token}`, { reason: signal.reason, at: performance.now() });
      }, { once: true });
      try {
        for (let i = 1; i <= (req.count ?? 0); i++) {
          if ((req.delayMs ?? 0) > 0) await sleep(req.delayMs!, signal);
          if (signal.aborted) return;
          yield { n: i };
        }
      } finally {
        events.fire(`finally:${token}`, performance.now());
      }
    },
    async *Blobs(req: Tick) {
      const data = new Uint8Array(req.size ?? 0).fill(7);
      for (let i = 1; i <= (req.count ?? 0); i++) yield { seq: i, data };
    },
    async Sum(reqs: AsyncIterable<Num>) {
      let n = 0;
      for await (const r of reqs) n += r.n;
      return { n };
    },
    async *Echo(reqs: AsyncIterable<Num>) {
      for await (const r of reqs) yield r;
    },
    Get(req: Num) {
      return req;
    },
  };
}

/** A running feed provider and a channel to it. */
export interface Feed extends AsyncDisposable {
  provider: RpcProvider;
  channel: RpcChannel;
  stub: FeedStub;
  events: Events;
  logger: CaptureLogger;
}

/** Options of {@linkcode startFeed}. */
export interface FeedOptions {
  provider?: RpcProviderOptions;
  channel?: Omit<RpcChannelOptions, "address" | "registry">;
  /** Handlers replacing the feed's own. */
  impl?: Record<string, Handler>;
}

/** Starts a feed provider on 127.0.0.1:0 and a channel to it. */
export async function startFeed(options: FeedOptions = {}): Promise<Feed> {
  const service = await feedService();
  const events = new Events();
  const logger = new CaptureLogger();
  const provider = new RpcProvider({ logger, ...options.provider });
  provider.notifyService(service, { ...feedImpl(events), ...options.impl });
  await provider.start();
  const channel = new RpcChannel({ address: provider.address, logger, ...options.channel });
  const stub = channel.stub<FeedStub>(service);
  return {
    provider,
    channel,
    stub,
    events,
    logger,
    [Symbol.asyncDispose]: async () => {
      await channel.close();
      await provider.close({ graceMs: 0 });
    },
  };
}
