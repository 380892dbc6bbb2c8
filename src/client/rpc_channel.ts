/**
 * The caller side: a channel finds providers through a registry (or a fixed address), keeps one
 * multiplexed connection per provider, balances calls, and fails over.
 *
 * @module
 */
import { protobuf } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { abortReason } from "../util/signals.ts";
import { ConsoleLogger, type Logger } from "../log/logger.ts";
import { type Endpoint, parseEndpoint, type Registry } from "../registry/registry.ts";
import {
  describeMethod,
  describeService,
  type Message,
  type MethodDescriptor,
} from "../schema/method_descriptor.ts";
import type { TlsClientOptions } from "../transport/listen.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_TIMEOUT_MS,
} from "../defaults.ts";
import type { Payload } from "../wire/frame_writer.ts";
import { type Balancer, type BalancerName, createBalancer } from "./balancer.ts";
import type { CallOptions, Stub, StubMethod } from "./call_options.ts";
import type { Caller } from "./caller.ts";
import type { ResponseDecoder } from "./outgoing_call.ts";
import { requestEncodeError } from "./request_encode_error.ts";
import { NativeCaller } from "./native_caller.ts";
import { RpcController } from "./rpc_controller.ts";
import { ServiceDefinition } from "../typed/service_definition.ts";
import type { TypedStub } from "../typed/typed_stub.ts";
import { StreamCall } from "./stream_call.ts";
import { CallMetrics, type MetricsSnapshot } from "../observe/metrics.ts";
import { ClientObserver } from "../observe/client_observer.ts";
import { DEFAULT_SLOW_CALL_MS } from "../defaults.ts";
import {
  type ChannelProtocol,
  LegacyCaller,
  type LegacyEmptyReply,
} from "../legacy/legacy_call.ts";

/** Options of {@linkcode RpcChannel}. */
export interface RpcChannelOptions {
  /** Where to find providers. Either this or `address`. */
  registry?: Registry | undefined;
  /** A fixed provider (`"host:port"`) for every service, instead of a registry. */
  address?: string | { host: string; port: number } | undefined;
  /** Default deadline of each call, ms; default 30000; `0` = none. */
  timeoutMs?: number | undefined;
  /**
   * Largest response body accepted; default 4 MiB. Providers learn it in the handshake and answer
   * a larger response with `RESOURCE_EXHAUSTED` instead.
   */
  maxMessageBytes?: number | undefined;
  /** Where to log; default: WARN and above to stderr. */
  logger?: Logger | undefined;
  /** `round_robin` (default), `random`, `least_inflight`, `consistent_hash`, or your own. */
  loadBalancer?: BalancerName | Balancer | undefined;
  /** Key for `consistent_hash` when a call gives none: a metadata key, or a function. */
  hashKey?: string | ((service: string, method: string, request: unknown) => string | undefined);
  /**
   * How long a connection attempt (TCP connect and handshake) may take, ms; default 3000. The
   * attempt is shared by every call waiting for that provider; each call waits only until its
   * own deadline or signal.
   */
  connectTimeoutMs?: number | undefined;
  /** Ping a connection after this long without hearing from it, ms; default 10000; 0 = off. */
  keepaliveMs?: number | undefined;
  /** Close a connection whose ping is unanswered this long, ms; default 5000. */
  keepaliveTimeoutMs?: number | undefined;
  /** Connect over TLS. */
  tls?: TlsClientOptions | undefined;
  /** Metadata sent with every call (e.g. an auth token); a call's own metadata wins. */
  metadata?: Record<string, string> | undefined;
  /**
   * Probe providers with the built-in health service (`mprpc.health.v1.Health/Check`, with the
   * channel's `metadata`) instead of trusting a bare PING alone: after each connection handshake
   * and every `keepaliveMs`. A provider answering other than `SERVING` (e.g. one whose `close()`
   * has started, before it leaves the registry) gets no new calls until a check answers
   * `SERVING` again; calls already sent finish. A provider without the health service
   * (`health: false`) counts as serving. Native protocol only. Default false.
   */
  healthCheck?: boolean | undefined;
  // The C++ mprpc protocol (src/legacy/).
  /**
   * `"native"` (default), or `"mprpc-legacy"` to call C++ mprpc providers: one connection per
   * call, no metadata; providers found by `registry.resolveLegacy(Service, Method)` when the
   * registry has it (ZooKeeper), else `address` or `registry.resolve`. See docs/mprpc-compat.md.
   */
  protocol?: ChannelProtocol | undefined;
  /** With `"mprpc-legacy"`: an empty reply is an `"error"` (default) or an empty `"message"`. */
  legacyEmptyReply?: LegacyEmptyReply | undefined;
  /**
   * Keep per-method metrics (see `RpcChannel.metrics`); default true. `false` skips every
   * counter on the call path.
   */
  metrics?: boolean | undefined;
}

const EMPTY: CallOptions = {};

/**
 * Calls services on providers.
 *
 * @example Calling UserServiceRpc.Login
 * ```ts ignore
 * import { loadProto, RpcChannel } from "./mod.ts";
 * const root = await loadProto("examples/user/user.proto");
 * const channel = new RpcChannel({ address: "127.0.0.1:8000", timeoutMs: 2000 });
 * const users = channel.stub(root.lookupService("fixbug.UserServiceRpc"));
 * const res = await users.Login!({ name: "zhang san", pwd: "123456" });
 * console.log(res.success);
 * await channel.close();
 * ```
 */
export class RpcChannel {
  #timeoutMs: number;
  #logger: Logger;
  #metadata: Record<string, string> | undefined;
  #stubs = new WeakMap<protobuf.Service, Stub>();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Sends the calls, in the channel's protocol. */
  #caller: Caller;
  /** Counts and traces each call. */
  #observer: ClientObserver;
  #metrics: CallMetrics;

  /** Creates a channel; it connects lazily, on the first call to each provider. */
  constructor(options: RpcChannelOptions) {
    if (!options.registry && !options.address) {
      throw new TypeError("RpcChannel needs a registry or an address");
    }
    let fixed: Endpoint | undefined;
    if (options.address !== undefined) {
      fixed = typeof options.address === "string"
        ? parseEndpoint(options.address)
        : { host: options.address.host, port: options.address.port };
    }
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#logger = options.logger ?? new ConsoleLogger("WARN");
    const balancer = createBalancer(options.loadBalancer ?? "round_robin");
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#metadata = options.metadata;
    if (!(this.#timeoutMs >= 0)) {
      throw new RangeError(`timeoutMs must be >= 0, got ${options.timeoutMs}`);
    }
    this.#metrics = new CallMetrics("client", {
      connections: () => this.#caller.stats?.().connections ?? 0,
      reconnects: () => this.#caller.stats?.().reconnects ?? 0,
      registry: options.registry,
      logger: this.#logger,
      slowCallMs: DEFAULT_SLOW_CALL_MS,
    });
    this.#observer = new ClientObserver(
      options.metrics === false ? undefined : this.#metrics,
      fixed,
    );
    const protocol = options.protocol ?? "native";
    if (protocol === "mprpc-legacy") {
      this.#caller = new LegacyCaller({
        registry: options.registry,
        address: fixed,
        maxMessageBytes,
        connectTimeoutMs,
        logger: this.#logger,
        tls: options.tls,
        emptyReply: options.legacyEmptyReply,
      });
    } else if (protocol === "native") {
      this.#caller = new NativeCaller({
        registry: options.registry,
        fixed,
        balancer,
        hashKey: options.hashKey,
        maxMessageBytes,
        logger: this.#logger,
        connectTimeoutMs,
        keepaliveMs: options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveTimeoutMs: options.keepaliveTimeoutMs ?? DEFAULT_KEEPALIVE_TIMEOUT_MS,
        tls: options.tls,
        healthCheck: options.healthCheck,
        metadata: options.metadata,
      });
    } else {
      throw new TypeError(
        `protocol must be "native" or "mprpc-legacy", got ${JSON.stringify(options.protocol)}`,
      );
    }
  }

  /**
   * A typed stub for a service of a generated module (`import { S } from "./s_pb.ts"`): its
   * methods take the request's `Init` type and resolve with the response type, under the
   * `.proto` names and their lowerCamelCase aliases. It is the same object as the untyped stub
   * of `S.service`: a typed call costs what an untyped one does.
   */
  stub<D extends ServiceDefinition>(service: D): TypedStub<D>;
  /**
   * A stub for `service`: one async method per RPC under its `.proto` name and lowerCamelCase
   * alias, each `(request, { timeoutMs?, signal?, metadata?, retries? }) => Promise<response>`.
   * Streaming methods: server streaming `(request, options?) => ResponseStream<response>`,
   * client streaming `(requests: AsyncIterable, options?) => Promise<response>`, bidirectional
   * `(requests: AsyncIterable, options?) => ResponseStream<response>` (see
   * {@linkcode ServerStreamMethod} and its siblings for typing your own stub interface).
   *
   * @example A server stream
   * ```ts
   * import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message N { int32 n = 1; }
   *   service Count { rpc Up(N) returns (stream N); }`);
   * const count = root.lookupService("demo.Count");
   * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
   * provider.notifyService(count, {
   *   async *Up(req: { n: number }) {
   *     for (let i = 1; i <= req.n; i++) yield { n: i };
   *   },
   * });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * const stub = channel.stub<{ Up(req: { n: number }): AsyncIterable<{ n: number }> }>(count);
   * let sum = 0;
   * for await (const m of stub.Up({ n: 4 })) sum += m.n;
   * if (sum !== 10) throw new Error(String(sum));
   * await channel.close();
   * await provider.close();
   * ```
   */
  stub<T = Stub>(service: protobuf.Service): T;
  stub(definition: protobuf.Service | ServiceDefinition): unknown {
    const service = definition instanceof ServiceDefinition ? definition.service : definition;
    let stub = this.#stubs.get(service);
    if (stub === undefined) {
      stub = {};
      for (const desc of describeService(service)) {
        const fn = desc.kind === "unary"
          ? (request?: Message, options?: CallOptions) =>
            this.#invoke(desc, request, options ?? EMPTY) as Promise<Message>
          : ((input?: unknown, options?: CallOptions) =>
            this.#stream(desc, input, options ?? EMPTY)) as unknown as StubMethod;
        stub[desc.name] = fn;
        if (!(desc.camelName in stub)) stub[desc.camelName] = fn;
      }
      Object.freeze(stub);
      this.#stubs.set(service, stub);
    }
    return stub;
  }

  /**
   * The original's `CallMethod`: calls `method` and resolves with the response, or with
   * `undefined` after marking `controller` failed (it never rejects when a controller is given).
   * The provider's response metadata lands in `controller.responseMetadata`.
   *
   * @example Reading the response metadata through the controller
   * ```ts
   * import { parseProto, RpcChannel, RpcController, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message Msg { string text = 1; }
   *   service Echo { rpc Say(Msg) returns (Msg); }`);
   * const echo = root.lookupService("demo.Echo");
   * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
   * provider.notifyService(echo, {
   *   Say(req, ctx) {
   *     ctx.responseMetadata["served-by"] = "node-1";
   *     return req;
   *   },
   * });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * const controller = new RpcController();
   * await channel.callMethod(echo.methods["Say"]!, controller, { text: "hi" });
   * if (controller.responseMetadata["served-by"] !== "node-1") throw new Error();
   * await channel.close();
   * await provider.close();
   * ```
   */
  async callMethod(
    method: protobuf.Method,
    controller: RpcController | undefined,
    request: Message,
    options?: CallOptions,
  ): Promise<Message | undefined> {
    controller?.reset();
    const desc = describeMethod(method);
    if (desc.kind !== "unary") {
      const err = streamsError(desc);
      if (!controller) throw err;
      controller.setFailed(err);
      return undefined;
    }
    let opts = options ?? EMPTY;
    if (controller !== undefined) {
      const user = opts.onResponseMetadata;
      opts = {
        ...opts,
        // controller.startCancel() cancels the call, as the call's own signal does.
        signal: opts.signal === undefined
          ? controller.signal
          : AbortSignal.any([opts.signal, controller.signal]),
        onResponseMetadata: (md) => {
          controller.responseMetadata = md;
          user?.(md);
        },
      };
    }
    try {
      return await this.#invoke(desc, request, opts) as Message;
    } catch (e) {
      if (!controller) throw e;
      controller.setFailed(RpcError.from(e, Code.UNKNOWN));
      return undefined;
    }
  }

  /**
   * An `rpcImpl` for protobufjs's `Service.create(rpcImpl)`: bytes in, bytes out, errors as
   * {@linkcode RpcError}, with the channel's defaults. {@linkcode RpcChannel.createRpcImpl}
   * takes call options.
   */
  get rpcImpl(): protobuf.RPCImpl {
    return this.createRpcImpl();
  }

  /**
   * An `rpcImpl` like {@linkcode RpcChannel.rpcImpl} whose calls all use `options` (deadline,
   * signal, metadata, retries, `onResponseMetadata`, ...).
   *
   * @example Response metadata through protobufjs's `Service.create`
   * ```ts
   * import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message Msg { string text = 1; }
   *   service Echo { rpc Say(Msg) returns (Msg); }`);
   * const echo = root.lookupService("demo.Echo");
   * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
   * provider.notifyService(echo, {
   *   Say(req, ctx) {
   *     ctx.responseMetadata["served-by"] = "node-1";
   *     return req;
   *   },
   * });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * let servedBy = "";
   * const rpcImpl = channel.createRpcImpl({
   *   timeoutMs: 2000,
   *   onResponseMetadata: (md) => servedBy = md["served-by"] ?? "",
   * });
   * // deno-lint-ignore no-explicit-any
   * const client = echo.create(rpcImpl) as any; // methods are added at run time
   * const res = await client.say({ text: "hi" });
   * if (res.text !== "hi" || servedBy !== "node-1") throw new Error();
   * await channel.close();
   * await provider.close();
   * ```
   */
  createRpcImpl(options?: CallOptions): protobuf.RPCImpl {
    const opts = options ?? EMPTY;
    return (method, requestData, callback) => {
      let desc: MethodDescriptor;
      try {
        desc = describeMethod(method as protobuf.Method);
      } catch (e) {
        callback(e as Error, null);
        return;
      }
      if (desc.kind !== "unary") {
        callback(streamsError(desc), null);
        return;
      }
      this.#send(desc, requestData, RAW, opts).then(
        (bytes) => callback(null, bytes as Uint8Array),
        (e) => callback(e, null),
      );
    };
  }

  /**
   * Every counter now: per method calls by status code, latency histogram, calls in flight,
   * request and response bytes; open connections, reconnects, the ZooKeeper session, logger
   * drops. Empty `methods` with the option `metrics: false`.
   *
   * @example Counting a failed call
   * ```ts
   * import { parseProto, RpcChannel, RpcError, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message Msg { string text = 1; }
   *   service Echo { rpc Say(Msg) returns (Msg); }`);
   * const echo = root.lookupService("demo.Echo");
   * const provider = new RpcProvider().notifyService(echo, {
   *   Say: () => { throw new RpcError(5, "no such text"); },
   * });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * await channel.stub(echo).Say!({ text: "hi" }).catch(() => {});
   * const say = channel.metrics().methods.find((m) => m.method === "Say");
   * if (say?.calls["NOT_FOUND"] !== 1 || channel.metrics().connections !== 1) throw new Error();
   * await channel.close();
   * await provider.close();
   * ```
   */
  metrics(): MetricsSnapshot {
    return this.#metrics.snapshot();
  }

  /** Fails calls in flight with `CANCELLED`, closes every connection and watch. Idempotent. */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #close(): Promise<void> {
    this.#closed = true;
    return this.#caller.close();
  }

  #invoke(desc: MethodDescriptor, request: Message | undefined, opts: CallOptions) {
    let payload: Payload;
    try {
      payload = desc.request.encodeLazy(request ?? {});
    } catch (e) {
      const err = requestEncodeError(desc, e);
      this.#logger.warn("bad request", { error: err.message });
      return Promise.reject(err);
    }
    return this.#send(desc, payload, desc.response, opts, request);
  }

  /** Opens a streaming call: its stream of responses, or the promise of its one response. */
  #stream(desc: MethodDescriptor, input: unknown, opts: CallOptions): unknown {
    const metadata = this.#metadata !== undefined
      ? { ...this.#metadata, ...opts.metadata }
      : opts.metadata;
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const deadline = timeoutMs > 0 && timeoutMs < 2 ** 31 ? Date.now() + timeoutMs : 0;
    let payload: Payload | undefined;
    let requests: AsyncIterable<unknown> | undefined;
    let bad: RpcError | undefined;
    if (desc.kind === "server_stream") {
      try {
        payload = desc.request.encodeLazy((input ?? {}) as Message);
      } catch (e) {
        bad = requestEncodeError(desc, e);
      }
    } else {
      requests = asAsyncIterable(input);
      if (requests === undefined) {
        bad = new RpcError(
          Code.INVALID_ARGUMENT,
          `${desc.service}.${desc.name} streams requests: pass an AsyncIterable (or Iterable) of ` +
            `them, got ${input === null ? "null" : typeof input}`,
        );
      }
    }
    // Recorded when it is opened: as for unary calls, not a bad request, a closed channel or a
    // signal aborted already.
    const observed = bad === undefined && !this.#closed && opts.signal?.aborted !== true
      ? this.#observer.stream(desc, metadata)
      : undefined;
    if (payload !== undefined) observed?.record.sent(payload.length); // a server stream's request
    const call = new StreamCall({
      desc,
      deadline,
      signal: opts.signal,
      metadata: observed === undefined ? metadata : observed.metadata,
      request: input,
      payload,
      requests,
      record: observed?.record,
    });
    if (bad !== undefined) {
      this.#logger.warn("bad request", { error: bad.message });
      call.fail(bad, false);
    } else if (this.#closed) call.fail(new RpcError(Code.CANCELLED, "channel closed"), false);
    else if (this.#caller.openStream === undefined) call.fail(streamsError(desc), false);
    else this.#caller.openStream(call);
    return desc.kind === "client_stream" ? call.response() : call;
  }

  #send(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    request?: unknown,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcError(Code.CANCELLED, "channel closed"));
    if (this.#metadata !== undefined) {
      opts = { ...opts, metadata: { ...this.#metadata, ...opts.metadata } };
    }
    if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal.reason));
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const deadline = timeoutMs > 0 && timeoutMs < 2 ** 31 ? Date.now() + timeoutMs : 0;
    return this.#observer.call(this.#caller, desc, payload, decoder, opts, deadline, request);
  }
}

const RAW: ResponseDecoder = {
  decode: (payload: Uint8Array, borrowed: boolean) => borrowed ? payload.slice() : payload,
};

/** The error of a streaming method called where only unary calls go. */
function streamsError(desc: MethodDescriptor): RpcError {
  return new RpcError(
    Code.UNIMPLEMENTED,
    `${desc.service}.${desc.name} streams (${desc.kind}): call it through a stub of the native ` +
      "protocol (the mprpc-legacy protocol, callMethod and rpcImpl have no streams)",
  );
}

/** `input` as an AsyncIterable (an Iterable is wrapped), or undefined when it is neither. */
function asAsyncIterable(input: unknown): AsyncIterable<unknown> | undefined {
  if (input === null || typeof input !== "object") return undefined;
  if (Symbol.asyncIterator in input) return input as AsyncIterable<unknown>;
  if (Symbol.iterator in input) {
    const items = input as Iterable<unknown>;
    return (async function* () {
      yield* items;
    })();
  }
  return undefined;
}
