/**
 * The caller side: a channel finds providers through a registry (or a fixed address), keeps one
 * multiplexed connection per provider, balances calls, and fails over.
 *
 * @module
 */
import { protobuf } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { ConsoleLogger, type Logger } from "../log/logger.ts";
import { type Endpoint, parseEndpoint, type Registry } from "../registry/registry.ts";
import {
  describeMethod,
  describeService,
  type Message,
  type MethodDescriptor,
} from "../schema/method_descriptor.ts";
import type { TlsClientOptions } from "../transport/listen.ts";
import { DeadlineWheel } from "../util/deadline_wheel.ts";
import { type CallSignal, callSignal, raceSignal } from "../util/signals.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../wire/frame.ts";
import { type Payload, payloadBytes } from "../wire/frame_writer.ts";
import { type Balancer, type BalancerName, createBalancer } from "./balancer.ts";
import type { CallOptions, Stub } from "./call_options.ts";
import {
  ClientConnection,
  isGoingAway,
  type OutgoingCall,
  type ResponseDecoder,
} from "./client_connection.ts";
import { RpcController } from "./rpc_controller.ts";
import { type EndpointState, ServiceDirectory, type ServiceState } from "./service_directory.ts";

import {
  type ChannelProtocol,
  LegacyCaller,
  type LegacyEmptyReply,
} from "../legacy/legacy_call.ts";

/** Options of {@linkcode RpcChannel}. */
export interface RpcChannelOptions {
  /** Where to find providers. Either this or `address`. */
  registry?: Registry;
  /** A fixed provider (`"host:port"`) for every service, instead of a registry. */
  address?: string | { host: string; port: number };
  /** Default deadline of each call, ms; default 30000; `0` = none. */
  timeoutMs?: number;
  /**
   * Largest response body accepted; default 4 MiB. Providers learn it in the handshake and answer
   * a larger response with `RESOURCE_EXHAUSTED` instead.
   */
  maxMessageBytes?: number;
  /** Where to log; default: WARN and above to stderr. */
  logger?: Logger;
  /** `round_robin` (default), `random`, `least_inflight`, `consistent_hash`, or your own. */
  loadBalancer?: BalancerName | Balancer;
  /** Key for `consistent_hash` when a call gives none: a metadata key, or a function. */
  hashKey?: string | ((service: string, method: string, request: unknown) => string | undefined);
  /**
   * How long a connection attempt (TCP connect and handshake) may take, ms; default 3000. The
   * attempt is shared by every call waiting for that provider; each call waits only until its
   * own deadline or signal.
   */
  connectTimeoutMs?: number;
  /** Ping a connection after this long without hearing from it, ms; default 10000; 0 = off. */
  keepaliveMs?: number;
  /** Close a connection whose ping is unanswered this long, ms; default 5000. */
  keepaliveTimeoutMs?: number;
  /** Connect over TLS. */
  tls?: TlsClientOptions;
  /** Metadata sent with every call (e.g. an auth token); a call's own metadata wins. */
  metadata?: Record<string, string>;
  // The C++ mprpc protocol (src/legacy/).
  /**
   * `"native"` (default), or `"mprpc-legacy"` to call C++ mprpc providers: one connection per
   * call, no metadata; providers found by `registry.resolveLegacy(Service, Method)` when the
   * registry has it (ZooKeeper), else `address` or `registry.resolve`. See docs/mprpc-compat.md.
   */
  protocol?: ChannelProtocol;
  /** With `"mprpc-legacy"`: an empty reply is an `"error"` (default) or an empty `"message"`. */
  legacyEmptyReply?: LegacyEmptyReply;
}

const EMPTY: CallOptions = {};

/**
 * How many times a call that a provider never started (GOAWAY, idle close) is sent again, on
 * top of the first send; each hop is also bounded by the call's deadline.
 */
const MAX_NOT_STARTED_RESENDS = 4;

/** A call on its way out: sent as it is on a ready connection, carried by the slow path. */
interface PendingSend extends OutgoingCall {
  desc: MethodDescriptor;
  payload: Payload;
  decoder: ResponseDecoder;
  opts: CallOptions;
  /** `Date.now()` deadline, or 0 for none. */
  deadline: number;
  request: unknown;
  /** Times it was sent again because a provider never started it. */
  hops: number;
  /**
   * Aborts with `DEADLINE_EXCEEDED` or `CANCELLED` (an `RpcError`): bounds every wait before the
   * request is sent (registry, connect, handshake). Made on the first such wait, only when the
   * call has a deadline or a signal.
   */
  bound?: CallSignal | undefined;
}

/**
 * Calls services on providers.
 *
 * @example Calling UserServiceRpc.Login
 * ```ts ignore
 * import { loadProto, RpcChannel } from "./mod.ts";
 * const root = await loadProto("examples/user/user.proto");
 * const channel = new RpcChannel({ address: "127.0.0.1:8000", timeoutMs: 2000 });
 * const users = channel.stub(root.lookupService("fixbug.UserServiceRpc"));
 * const res = await users.Login({ name: "zhang san", pwd: "123456" });
 * console.log(res.success);
 * await channel.close();
 * ```
 */
export class RpcChannel {
  #directory: ServiceDirectory;
  #timeoutMs: number;
  #maxMessageBytes: number;
  #logger: Logger;
  #balancer: Balancer;
  #hashKey: RpcChannelOptions["hashKey"];
  #connectTimeoutMs: number;
  #keepaliveMs: number;
  #keepaliveTimeoutMs: number;
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #tls: TlsClientOptions | undefined;
  #metadata: Record<string, string> | undefined;
  #wheel = new DeadlineWheel();
  #stubs = new WeakMap<protobuf.Service, Stub>();
  #closed = false;
  #closing: Promise<void> | undefined;
  #connections = new Set<ClientConnection>();
  #background = new Set<Promise<void>>();
  #legacy: LegacyCaller | undefined;

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
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#logger = options.logger ?? new ConsoleLogger("WARN");
    this.#directory = new ServiceDirectory({
      registry: options.registry,
      fixed,
      logger: this.#logger,
    });
    this.#balancer = createBalancer(options.loadBalancer ?? "round_robin");
    this.#hashKey = options.hashKey;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    this.#keepaliveMs = options.keepaliveMs ?? 10_000;
    this.#keepaliveTimeoutMs = options.keepaliveTimeoutMs ?? 5000;
    this.#tls = options.tls;
    this.#metadata = options.metadata;
    if (!(this.#timeoutMs >= 0)) {
      throw new RangeError(`timeoutMs must be >= 0, got ${options.timeoutMs}`);
    }
    // The C++ mprpc protocol (src/legacy/).
    if (options.protocol === "mprpc-legacy") {
      this.#legacy = new LegacyCaller({
        registry: options.registry,
        address: fixed,
        maxMessageBytes: this.#maxMessageBytes,
        connectTimeoutMs: this.#connectTimeoutMs,
        logger: this.#logger,
        tls: options.tls,
        emptyReply: options.legacyEmptyReply,
      });
    } else if (options.protocol !== undefined && options.protocol !== "native") {
      throw new TypeError(
        `protocol must be "native" or "mprpc-legacy", got ${JSON.stringify(options.protocol)}`,
      );
    }
  }

  /**
   * A stub for `service`: one async method per RPC under its `.proto` name and lowerCamelCase
   * alias, each `(request, { timeoutMs?, signal?, metadata?, retries? }) => Promise<response>`.
   */
  stub<T = Stub>(service: protobuf.Service): T {
    let stub = this.#stubs.get(service);
    if (stub === undefined) {
      stub = {};
      for (const desc of describeService(service)) {
        const fn = (request?: Message, options?: CallOptions) =>
          this.#invoke(desc, request, options ?? EMPTY) as Promise<Message>;
        stub[desc.name] = fn;
        if (!(desc.camelName in stub)) stub[desc.camelName] = fn;
      }
      Object.freeze(stub);
      this.#stubs.set(service, stub);
    }
    return stub as T;
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
      return await this.#invoke(describeMethod(method), request, opts) as Message;
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
      this.#send(desc, requestData, RAW, opts).then(
        (bytes) => callback(null, bytes as Uint8Array),
        (e) => callback(e, null),
      );
    };
  }

  /** Fails calls in flight with `CANCELLED`, closes every connection and watch. Idempotent. */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#keepaliveTimer !== undefined) clearInterval(this.#keepaliveTimer);
    this.#directory.close();
    const reason = new RpcError(Code.CANCELLED, "channel closed");
    // A connection leaves #connections only once fully closed, so this awaits every socket.
    await Promise.all([...this.#connections].map((c) => c.close(reason)));
    await Promise.all([...this.#background]);
    await this.#legacy?.close();
    this.#wheel.close();
  }

  #invoke(desc: MethodDescriptor, request: Message | undefined, opts: CallOptions) {
    let payload: Payload;
    try {
      payload = desc.request.encodeLazy(request ?? {});
    } catch (e) {
      const err = new RpcError(
        Code.INVALID_ARGUMENT,
        `cannot encode ${desc.request.type.fullName.slice(1)} for ${desc.service}.${desc.name}: ${
          e instanceof Error ? e.message : String(e)
        }`,
      );
      this.#logger.warn("bad request", { error: err.message });
      return Promise.reject(err);
    }
    return this.#send(desc, payload, desc.response, opts, request);
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
    if (opts.signal?.aborted) {
      return Promise.reject(new RpcError(Code.CANCELLED, "cancelled by the caller"));
    }
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    const deadline = timeoutMs > 0 && timeoutMs < 2 ** 31 ? Date.now() + timeoutMs : 0;
    // The C++ protocol: one connection per call (src/legacy/legacy_call.ts).
    if (this.#legacy !== undefined) {
      return this.#legacy.call(desc, payloadBytes(payload), decoder, opts, deadline);
    }
    if (opts.onResponseMetadata !== undefined) {
      return this.#withResponseMetadata(desc, payload, decoder, opts, deadline, request);
    }
    return this.#dispatch(desc, payload, decoder, opts, deadline, request);
  }

  /** Sends the call and hands the response metadata to `opts.onResponseMetadata` on success. */
  async #withResponseMetadata(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    request: unknown,
  ): Promise<unknown> {
    let metadata: Record<string, string> = {};
    const capturing: ResponseDecoder = {
      decode: (bytes, borrowed) => decoder.decode(bytes, borrowed),
      onMetadata: (md) => metadata = md,
    };
    const value = await this.#dispatch(desc, payload, capturing, opts, deadline, request);
    opts.onResponseMetadata!(metadata); // a throw here rejects the call with that error
    return value;
  }

  #dispatch(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    request: unknown,
  ): Promise<unknown> {
    if ((opts.retries ?? 0) > 0) {
      return this.#bounded(
        { desc, payload, decoder, opts, deadline, request, hops: 0 },
        (call) => this.#sendWithRetries(call),
      );
    }
    // Fast path: service resolved, provider picked, connection open.
    const svc = this.#directory.ready(desc.service);
    let picked: EndpointState | undefined;
    if (svc !== undefined) {
      const healthy = this.#directory.healthy(svc);
      if (healthy.length > 0) {
        const ep = this.#balancer.pick(healthy, this.#key(desc, opts, request));
        const conn = ep.conn;
        if (conn !== undefined && conn.ready) {
          const call: PendingSend = { desc, payload, decoder, opts, deadline, request, hops: 0 };
          return conn.call(call);
        }
        // Not connected yet: connect in the background and, if another provider is ready,
        // send there now, so no call waits for a handshake while a ready provider exists.
        // (Only for a provider that failed before: a fresh one is worth one handshake's wait,
        // and sticky balancers keep their choice.)
        const ready = ep.failures > 0 ? this.#readyOthers(healthy, ep) : undefined;
        if (ready !== undefined) {
          const other = this.#balancer.pick(ready, this.#key(desc, opts, request));
          const call: PendingSend = { desc, payload, decoder, opts, deadline, request, hops: 0 };
          return other.conn!.call(call);
        }
        picked = ep; // nothing ready: connect to it rather than asking the balancer again
      }
    }
    return this.#bounded(
      { desc, payload, decoder, opts, deadline, request, hops: 0 },
      (call) => this.#sendSlow(call, undefined, picked),
    );
  }

  /** Runs the slow path of `call`, then releases `call.bound` if a wait made one. */
  async #bounded(call: PendingSend, run: (call: PendingSend) => Promise<unknown>) {
    try {
      return await run(call);
    } finally {
      call.bound?.cleanup();
    }
  }

  /**
   * `p`, or the error of the call's deadline or signal as soon as one fires, saying which stage
   * it ended (`DEADLINE_EXCEEDED ... while connecting to host:port`); logged at DEBUG.
   */
  #stage<T>(call: PendingSend, p: Promise<T>, stage: () => string): Promise<T> {
    if (call.deadline === 0 && call.opts.signal === undefined) return p;
    call.bound ??= callSignal(call.opts.signal, call.deadline);
    return raceSignal(p, call.bound.signal, (reason) => {
      const base = RpcError.from(reason, Code.CANCELLED);
      const err = new RpcError(base.code, `${base.message} while ${stage()}`, { cause: reason });
      this.#logger.debug("call ended before it was sent", {
        method: `${call.desc.service}.${call.desc.name}`,
        error: err.message,
      });
      return err;
    });
  }

  async #sendWithRetries(call: PendingSend): Promise<unknown> {
    const { desc, opts, deadline } = call;
    const avoid = new Set<string>();
    let attemptsLeft = opts.retries ?? 0;
    for (;;) {
      try {
        return await this.#sendSlow(call, avoid);
      } catch (e) {
        const retryable = e instanceof RpcError && e.code === Code.UNAVAILABLE;
        if (!retryable || attemptsLeft-- <= 0 || (deadline > 0 && Date.now() >= deadline)) {
          throw e;
        }
        this.#logger.debug("retrying call", {
          method: `${desc.service}.${desc.name}`,
          error: (e as Error).message,
        });
      }
    }
  }

  async #sendSlow(
    call: PendingSend,
    avoid: Set<string> | undefined,
    picked?: EndpointState,
  ): Promise<unknown> {
    const { desc, opts, deadline } = call;
    const resolving = this.#directory.resolve(desc.service);
    const svc = resolving instanceof Promise
      ? await this.#stage(call, resolving, () => `resolving the providers of ${desc.service}`)
      : resolving;
    const tried = new Set<string>();
    let lastError: RpcError | undefined;
    for (;;) {
      if (this.#closed) throw new RpcError(Code.CANCELLED, "channel closed");
      if (opts.signal?.aborted) throw new RpcError(Code.CANCELLED, "cancelled by the caller");
      if (deadline > 0 && Date.now() >= deadline) {
        throw new RpcError(
          Code.DEADLINE_EXCEEDED,
          `deadline exceeded before the call was sent${lastError ? `: ${lastError.message}` : ""}`,
        );
      }
      const ep = picked !== undefined && svc.endpoints.includes(picked) && !tried.has(picked.key)
        ? picked
        : this.#choose(svc, tried, avoid, call);
      picked = undefined;
      if (ep === undefined) {
        throw lastError ??
          new RpcError(Code.UNAVAILABLE, `no provider available for service ${desc.service}`);
      }
      tried.add(ep.key);
      let conn: ClientConnection;
      try {
        conn = await this.#connection(ep, call);
      } catch (e) {
        if (isGoingAway(e) && call.hops < MAX_NOT_STARTED_RESENDS) {
          // The provider closed the new connection as it opened (an idle close crossing it):
          // nothing was sent; the same provider may be tried again.
          call = { ...call, hops: call.hops + 1 };
          tried.delete(ep.key);
          continue;
        }
        if (e instanceof RpcError && e.code === Code.UNAVAILABLE) {
          lastError = e;
          continue; // nothing was sent: try another provider transparently
        }
        throw e;
      }
      try {
        return await conn.call(call);
      } catch (e) {
        // A retry (if any) prefers another provider.
        if (e instanceof RpcError && e.code === Code.UNAVAILABLE) avoid?.add(ep.key);
        throw e;
      }
    }
  }

  #choose(
    svc: ServiceState,
    tried: Set<string>,
    avoid: Set<string> | undefined,
    call: PendingSend,
  ): EndpointState | undefined {
    const untried = svc.endpoints.filter((e) => !tried.has(e.key));
    if (untried.length === 0) return undefined;
    const now = Date.now();
    let pool = untried.filter((e) => e.downUntil <= now && !avoid?.has(e.key));
    if (pool.length === 0) pool = untried.filter((e) => e.downUntil <= now);
    if (pool.length === 0) {
      // Every provider is backing off: try the one whose backoff ends first, now.
      pool = [untried.reduce((a, b) => (a.downUntil <= b.downUntil ? a : b))];
    }
    return this.#balancer.pick(pool, this.#key(call.desc, call.opts, call.request));
  }

  #key(desc: MethodDescriptor, opts: CallOptions, request: unknown): string | undefined {
    if (opts.hashKey !== undefined) return opts.hashKey;
    const hk = this.#hashKey;
    if (hk === undefined) return undefined;
    if (typeof hk === "string") return opts.metadata?.[hk];
    return hk(desc.service, desc.name, request);
  }

  async #connection(ep: EndpointState, call: PendingSend | undefined): Promise<ClientConnection> {
    let conn = ep.conn;
    if (conn === undefined || conn.gone) {
      conn = new ClientConnection({
        host: ep.host,
        port: ep.port,
        maxMessageBytes: this.#maxMessageBytes,
        wheel: this.#wheel,
        logger: this.#logger,
        tls: this.#tls,
        connectTimeoutMs: this.#connectTimeoutMs,
        onGone: (c) => this.#connectionGone(ep, c),
        onClosed: (c) => this.#connections.delete(c),
        onNotStarted: this.#sendAgain,
      });
      ep.conn = conn;
      this.#connections.add(conn);
      this.#startKeepalive();
      // The provider's health follows the attempt itself, once, whether or not a call is still
      // waiting for it (calls may all have hit their deadlines first). A GOAWAY answering the
      // handshake is a provider going away gracefully, not a failure to back off from.
      void conn.connect().then(
        () => this.#directory.markUp(ep),
        (e) => {
          if (e instanceof RpcError && e.code === Code.UNAVAILABLE && !isGoingAway(e)) {
            this.#directory.markDown(ep, e);
          }
        },
      );
    }
    if (!conn.ready) {
      const ready = conn.connect();
      const c = conn;
      // The attempt may be shared with calls whose deadlines are later: this call waits only
      // as long as its own deadline and signal allow.
      await (call === undefined
        ? ready
        : this.#stage(call, ready, () =>
          c.connected
            ? `waiting for ${ep.key} to answer the connection handshake`
            : `connecting to ${ep.key}`));
    }
    return conn;
  }

  /**
   * Sends again a call that a provider never started (it answered "not started", or its GOAWAY
   * named an earlier last call): safe for every method, since no handler ran. Through the slow
   * path, so a going-away connection is replaced; bounded by the deadline and a hop count.
   */
  #sendAgain = (
    sent: OutgoingCall,
    error: RpcError,
    from: ClientConnection,
  ): Promise<unknown> | undefined => {
    const call = sent as PendingSend;
    if (this.#closed || call.hops >= MAX_NOT_STARTED_RESENDS) return undefined;
    const provider = from.key;
    this.#logger.debug("sending again a call the provider never started", {
      method: `${call.desc.service}.${call.desc.name}`,
      provider,
      error: error.message,
    });
    // Another provider if there is one; the same one (on a new connection) otherwise.
    // A fresh bound for the new attempt (the first one was released when that attempt ended).
    return this.#bounded(
      { ...call, hops: call.hops + 1, bound: undefined },
      (again) => this.#sendSlow(again, new Set([provider])),
    );
  };

  /** Starts connecting to `ep` in the background; returns the other ready providers, if any. */
  #readyOthers(healthy: EndpointState[], ep: EndpointState): EndpointState[] | undefined {
    let ready: EndpointState[] | undefined;
    for (const e of healthy) {
      if (e !== ep && e.conn !== undefined && e.conn.ready) (ready ??= []).push(e);
    }
    if (ready !== undefined && !this.#closed && !ep.warming) {
      ep.warming = true;
      const p: Promise<void> = this.#connection(ep, undefined).then(
        () => {},
        () => {}, // already logged and put into backoff by #connection
      ).finally(() => {
        ep.warming = false;
        this.#background.delete(p);
      });
      this.#background.add(p);
    }
    return ready;
  }

  #connectionGone(ep: EndpointState, conn: ClientConnection): void {
    if (ep.conn === conn) ep.conn = undefined;
    if (conn.livenessFailed) {
      // A frozen process still completes TCP handshakes: keep it out of rotation until a new
      // connection's handshake (a PING answered) proves it is back.
      this.#directory.markDown(
        ep,
        new RpcError(Code.UNAVAILABLE, `provider ${ep.key} stopped answering pings`),
      );
    }
  }

  #startKeepalive(): void {
    if (this.#keepaliveTimer !== undefined || this.#keepaliveMs <= 0) return;
    const every = Math.max(5, Math.min(this.#keepaliveMs, this.#keepaliveTimeoutMs) / 2);
    this.#keepaliveTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#connections) {
        c.keepalive(now, this.#keepaliveMs, this.#keepaliveTimeoutMs);
      }
    }, every);
    Deno.unrefTimer(this.#keepaliveTimer as unknown as number);
  }
}

const RAW: ResponseDecoder = {
  decode: (payload: Uint8Array, borrowed: boolean) => borrowed ? payload.slice() : payload,
};
