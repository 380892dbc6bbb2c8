/**
 * The kitchen-sink service of `tests/_fixtures/kitchen.proto`, served by a real provider on
 * 127.0.0.1 with a channel pointed at it, for end-to-end tests.
 *
 * - `Echo` returns its request and copies request metadata into the response trailers.
 * - `Sleep` waits `ms` or until `ctx.signal` aborts, and reports which; it fires
 *   `started:<token>` (with the `CallContext`) and `aborted:<token>` (with the abort reason) on
 *   {@linkcode Kitchen.events}.
 * - `Fail` fails as `mode` says: `rpc` throws `RpcError(code, message)` with metadata
 *   `{ where: "kitchen" }`, `throw` throws an `Error`, `reject` returns a rejected promise,
 *   `string` throws a bare string.
 * - `Unimplemented` has no handler.
 *
 * @module
 */
import { Code, RpcError } from "../../src/errors.ts";
import { RpcChannel, type RpcChannelOptions } from "../../src/client/rpc_channel.ts";
import type { StubMethod } from "../../src/client/call_options.ts";
import { loadProto, parseProto, type Root } from "../../src/schema/load_proto.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider, type RpcProviderOptions } from "../../src/server/rpc_provider.ts";
import type { Handler } from "../../src/server/server_connection.ts";
import type { protobuf } from "../../src/deps.ts";
import { CaptureLogger } from "./capture_logger.ts";

/** The stub of `kitchen.Kitchen`. */
export interface KitchenStub {
  Echo: StubMethod;
  Sleep: StubMethod;
  Fail: StubMethod;
  Unimplemented: StubMethod;
  echo: StubMethod;
  sleep: StubMethod;
  fail: StubMethod;
  unimplemented: StubMethod;
}

let rootPromise: Promise<Root> | undefined;

/** The parsed `kitchen.proto` (loaded once per test file). */
export function kitchenRoot(): Promise<Root> {
  return rootPromise ??= loadProto(new URL("../_fixtures/kitchen.proto", import.meta.url));
}

/** `kitchen.Kitchen`. */
export async function kitchenService(): Promise<protobuf.Service> {
  return (await kitchenRoot()).lookupService("kitchen.Kitchen");
}

/** A service no kitchen provider serves. */
export function ghostService(): protobuf.Service {
  return parseProto(
    `syntax = "proto3"; package ghost;
     message Boo { string text = 1; }
     service Ghost { rpc Haunt(Boo) returns (Boo); }`,
    "ghost.proto",
  ).lookupService("ghost.Ghost");
}

/**
 * Named one-shot events: `wait(key)` resolves with the value of the first `fire(key, value)`,
 * whichever comes first.
 */
export class Events {
  #slots = new Map<string, { promise: Promise<unknown>; resolve: (v: unknown) => void }>();
  #slot(key: string) {
    let s = this.#slots.get(key);
    if (s === undefined) {
      let resolve!: (v: unknown) => void;
      const promise = new Promise<unknown>((r) => resolve = r);
      this.#slots.set(key, s = { promise, resolve });
    }
    return s;
  }
  /** Records `key` with `value`. */
  fire(key: string, value?: unknown): void {
    this.#slot(key).resolve(value);
  }
  /** Resolves once `key` was fired. */
  wait<T = unknown>(key: string): Promise<T> {
    return this.#slot(key).promise as Promise<T>;
  }
}

/** Handlers of `kitchen.Kitchen` recording into `events` and `tokens`. */
export function kitchenImpl(events: Events, tokens: string[]): Record<string, Handler> {
  return {
    Echo(req, ctx: CallContext) {
      if (typeof req.text === "string") tokens.push(req.text);
      Object.assign(ctx.responseMetadata, ctx.metadata);
      return req;
    },
    async Sleep(req, ctx: CallContext) {
      tokens.push(req.token);
      const signal = ctx.signal;
      events.fire(`started:${req.token}`, ctx);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, req.ms);
        signal.addEventListener("abort", done);
        if (signal.aborted) done();
      });
      const reason = signal.aborted ? signal.reason as RpcError : undefined;
      if (reason !== undefined) events.fire(`aborted:${req.token}`, reason);
      events.fire(`finished:${req.token}`);
      return { token: req.token, aborted: signal.aborted, reason: reason?.codeName ?? "" };
    },
    Fail(req) {
      switch (req.mode) {
        case "rpc":
          throw new RpcError(req.code, req.message, { metadata: { where: "kitchen" } });
        case "throw":
          throw new Error(req.message);
        case "reject":
          return Promise.reject(new Error(req.message));
        case "string":
          throw req.message;
        default:
          throw new RpcError(Code.INVALID_ARGUMENT, `unknown mode ${req.mode}`);
      }
    },
  };
}

/** A running kitchen provider and a channel to it. */
export interface Kitchen extends AsyncDisposable {
  provider: RpcProvider;
  channel: RpcChannel;
  stub: KitchenStub;
  service: protobuf.Service;
  events: Events;
  /** Echo texts and Sleep tokens in the order the provider saw them. */
  tokens: string[];
  logger: CaptureLogger;
  /** Closes the channel, then the provider. */
  close(): Promise<void>;
}

/** Options of {@linkcode startKitchen}. */
export interface KitchenOptions {
  provider?: RpcProviderOptions;
  channel?: Omit<RpcChannelOptions, "address" | "registry">;
  /** Handlers replacing the kitchen's own. */
  impl?: Record<string, Handler>;
}

/**
 * Starts a kitchen provider on 127.0.0.1:0 (logging into a {@linkcode CaptureLogger}) and a
 * channel to it.
 *
 * @example
 * ```ts ignore
 * await using k = await startKitchen();
 * const res = await k.stub.Echo({ text: "hi" });
 * ```
 */
export async function startKitchen(options: KitchenOptions = {}): Promise<Kitchen> {
  const service = await kitchenService();
  const events = new Events();
  const tokens: string[] = [];
  const logger = new CaptureLogger();
  const provider = new RpcProvider({ logger, ...options.provider });
  provider.notifyService(service, { ...kitchenImpl(events, tokens), ...options.impl });
  await provider.start();
  const channel = new RpcChannel({
    address: provider.address,
    logger,
    ...options.channel,
  });
  const stub = channel.stub<KitchenStub>(service);
  const close = async () => {
    await channel.close();
    await provider.close({ graceMs: 0 });
  };
  return {
    provider,
    channel,
    stub,
    service,
    events,
    tokens,
    logger,
    close,
    [Symbol.asyncDispose]: close,
  };
}
