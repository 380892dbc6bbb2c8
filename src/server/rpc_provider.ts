/**
 * The provider: serves protobuf services on a TCP port and announces them in a registry
 * (the original's `RpcProvider` with `NotifyService` and `Run`).
 *
 * @module
 */
import {
  DEFAULT_GRACE_MS,
  DEFAULT_MAX_INFLIGHT_PER_CONNECTION,
  DEFAULT_MAX_STREAMS_PER_CONNECTION,
  DEFAULT_READ_TIMEOUT_MS,
  DEFAULT_SLOW_CALL_MS,
} from "../defaults.ts";
import { protobuf } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { ConsoleLogger, type Logger } from "../log/logger.ts";
import type { ServiceRegistration } from "../registry/registry.ts";
import { describeService, serviceName } from "../schema/method_descriptor.ts";
import { DeadlineWheel } from "../util/deadline_wheel.ts";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../wire/frame.ts";
import {
  type Handler,
  type Route,
  ServerConnection,
  type ServerHost,
} from "./server_connection.ts";
import { listen, type Listener } from "../transport/listen.ts";
import { compose, type Interceptor } from "./interceptor.ts";
import { workerOptions, WorkerPool } from "./worker_pool.ts";
import type { CloseOptions, RpcProviderOptions, ServiceOptions } from "./rpc_provider_options.ts";
import { AcceptBackoff } from "./accept_backoff.ts";
import { defaultMaxConnections } from "./_max_connections.ts";
import { type ByteStream, DEFAULT_MAX_UNSENT_BYTES } from "../transport/framed_connection.ts";
import { importModule } from "../util/import_module.ts";
import type { AcceptedConnection, ServerProtocol } from "./accepted_connection.ts";
import type { PeerAddress } from "./call_context.ts";
import { Sniffer } from "./sniffer.ts";
import { sweepConnections } from "./connection_sweep.ts";
import { hasMagic } from "../wire/frame.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import { legacyProtocol } from "../legacy/legacy_protocol.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { errorMessage } from "../util/error_message.ts";
import { HEALTH_SERVICE, healthHandlers, healthService } from "../ops/health_service.ts";
import {
  REFLECTION_SERVICE,
  reflectionHandlers,
  reflectionService,
} from "../ops/reflection_service.ts";
import { ServiceDefinition } from "../typed/service_definition.ts";
import type { ServiceImpl } from "../typed/service_impl.ts";
import { CallMetrics, type MetricsSnapshot } from "../observe/metrics.ts";
import { AdminServer } from "../observe/admin_server.ts";
import {
  mergeRecentCalls,
  mergeSnapshots,
  type WorkerMetrics,
} from "../observe/merge_snapshots.ts";
import { registryView } from "../observe/registry_view.ts";
import type { RecentCall } from "../observe/recent_calls.ts";
import { tracedHandler } from "../observe/tracing.ts";
import { thrownToRpcError } from "./_thrown.ts";

export type { CloseOptions, RpcProviderOptions, ServiceOptions };

/**
 * What `provider`'s own event loop counted, without its Workers' share (private to the toolkit:
 * a provider Worker posts it to the main thread).
 *
 * @example
 * ```ts
 * import { localMetrics, RpcProvider } from "./rpc_provider.ts";
 * const { metrics, recent } = localMetrics(new RpcProvider());
 * if (metrics.connections !== 0 || recent.length !== 0) throw new Error();
 * ```
 */
export let localMetrics: (provider: RpcProvider) => WorkerMetrics;

/**
 * Serves protobuf services.
 *
 * @example Serving the original's UserServiceRpc
 * ```ts ignore
 * import { loadProto, RpcProvider } from "./mod.ts";
 * const root = await loadProto("examples/user/user.proto");
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 8000 });
 * provider.notifyService(root.lookupService("fixbug.UserServiceRpc"), {
 *   // `name` and `pwd` are `bytes` fields: they arrive as Uint8Array.
 *   Login: (req) => ({ success: new TextDecoder().decode(req.name) === "zhang san" }),
 *   Register: () => ({ result: { errcode: 0 }, success: true }),
 * });
 * await provider.run(); // until provider.close()
 * ```
 */
export class RpcProvider {
  #logger: Logger;
  #wheel: DeadlineWheel = new DeadlineWheel();
  #maxMessageBytes: number;
  /** What connections see of the provider (kept off the public surface). */
  #host: ServerHost;
  #options: RpcProviderOptions;
  #routes = new Map<string, Map<string, Route>>();
  #services = new Map<string, string[]>();
  /** Every service served (built-in ones included), for reflection. */
  #served = new Map<string, protobuf.Service>();
  /** False once `setServing(false)` or `close()`: health checks answer `NOT_SERVING`. */
  #serving = true;
  /** Told when health may have changed (health `Watch` streams). */
  #healthListeners = new Set<() => void>();
  #registrations: ServiceRegistration[] = [];
  #listener: Listener | undefined;
  #acceptLoop: Promise<void> | undefined;
  #connections = new Set<AcceptedConnection>();
  /** The protocol served next to the native one on the port (sniffed), if any. */
  #other: ServerProtocol | undefined;
  #closing: Promise<void> | undefined;
  #started: Promise<void> | undefined;
  #running = 0;
  #idleWaiters: Array<() => void> = [];
  #closed: { promise: Promise<void>; resolve: () => void };
  #idleTimer: ReturnType<typeof setInterval> | undefined;
  #pool: WorkerPool | undefined;
  #interceptors: Interceptor[];
  /** Set when the routes were composed with the interceptors: no more services or interceptors. */
  #sealed = false;
  #maxConnections: number;
  #acceptBackoff: AcceptBackoff;
  /** Per-method counters and the rest; undefined with `metrics: false`. */
  #metrics: CallMetrics | undefined;
  #admin: AdminServer | undefined;

  /** Creates a provider; nothing listens until {@linkcode RpcProvider.start}. */
  constructor(options: RpcProviderOptions = {}) {
    this.#options = options;
    this.#interceptors = [...options.interceptors ?? []];
    this.#logger = options.logger ?? new ConsoleLogger("WARN");
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#maxConnections = options.maxConnections ?? defaultMaxConnections(options.workers ?? 1);
    if (!Number.isInteger(this.#maxConnections) || this.#maxConnections < 1) {
      throw new RangeError(
        `maxConnections must be an integer >= 1, got ${options.maxConnections}`,
      );
    }
    this.#acceptBackoff = new AcceptBackoff(this.#logger);
    if (options.metrics !== false) {
      this.#metrics = new CallMetrics("server", {
        connections: () => this.#connections.size,
        registry: options.registry,
        logger: this.#logger,
        slowCallMs: options.slowCallMs ?? DEFAULT_SLOW_CALL_MS,
      });
    }
    const maxUnsentBytes = options.maxUnsentBytes ?? DEFAULT_MAX_UNSENT_BYTES;
    this.#host = {
      logger: this.#logger,
      wheel: this.#wheel,
      maxMessageBytes: this.#maxMessageBytes,
      maxInflightPerConnection: options.maxInflightPerConnection ??
        DEFAULT_MAX_INFLIGHT_PER_CONNECTION,
      slowCallMs: options.slowCallMs ?? DEFAULT_SLOW_CALL_MS,
      maxUnsentBytes,
      maxStreamsPerConnection: options.maxStreamsPerConnection ??
        DEFAULT_MAX_STREAMS_PER_CONNECTION,
      route: (service, method) => this.#route(service, method),
      callDelta: (delta) => this.#callDelta(delta),
      connectionClosed: (conn) => this.#connectionClosed(conn),
    };
    const maxStreams = this.#host.maxStreamsPerConnection!;
    if (!Number.isInteger(maxStreams) || maxStreams < 1) {
      throw new RangeError(
        `maxStreamsPerConnection must be an integer >= 1, got ${options.maxStreamsPerConnection}`,
      );
    }
    if (!(maxUnsentBytes > 0)) {
      throw new RangeError(`maxUnsentBytes must be positive, got ${options.maxUnsentBytes}`);
    }
    if (!(this.#maxMessageBytes > 0)) {
      throw new RangeError(`maxMessageBytes must be positive, got ${options.maxMessageBytes}`);
    }
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer in 0..65535, got ${options.port}`);
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => resolve = r);
    this.#closed = { promise, resolve };
  }

  /**
   * Adds a service. `impl` maps each method name as written in the `.proto` (e.g. `Login`; the
   * lowerCamelCase `login` is accepted too) to `(request, ctx) => response | Promise<response>`.
   * Streaming methods take `(request, ctx) => AsyncIterable<response>` (server streaming, e.g.
   * an `async function*`), `(requests: AsyncIterable, ctx) => response | Promise<response>`
   * (client streaming) or `(requests: AsyncIterable, ctx) => AsyncIterable<response>`
   * (bidirectional). Methods without an implementation answer `UNIMPLEMENTED`.
   *
   * For a service of a generated module (`import { S } from "./s_pb.ts"`), `impl` is typed from
   * the `.proto` ({@linkcode ServiceImpl}): a handler for every method, under its `.proto` name,
   * requests as received, responses as the `Init` types.
   *
   * `options` apply to this service alone: `lendRequestBytes` overrides the provider's option of
   * that name (see {@linkcode ServiceOptions}).
   *
   * @throws {TypeError} when `impl` names a method the service does not have, or a value is not
   * a function, or the provider has already started.
   */
  notifyService<S extends protobuf.Service | ServiceDefinition>(
    definition: S,
    impl: S extends ServiceDefinition ? ServiceImpl<S> : Record<string, Handler>,
    options?: ServiceOptions,
  ): this {
    const service: protobuf.Service = definition instanceof ServiceDefinition
      ? definition.service
      : definition as protobuf.Service;
    if (this.#sealed || this.#listener !== undefined) {
      throw new TypeError("notifyService() must be called before start()/run()");
    }
    const lend = options?.lendRequestBytes ?? this.#options.lendRequestBytes === true;
    const methods = this.#addRoutes(service, impl as Record<string, Handler>, false, lend);
    const name = serviceName(service);
    this.#services.set(name, methods);
    this.#served.set(name, service);
    return this;
  }

  /**
   * Turns the provider's health to `SERVING` (`true`) or `NOT_SERVING` (`false`), for every
   * service: what `mprpc.health.v1.Health/Check` answers, and what channels with `healthCheck`
   * act on (they stop sending new calls to a provider that is not serving). Calls are still
   * served either way. With `workers`, every event loop follows. `close()` turns it
   * `NOT_SERVING` for good; after that, `setServing(true)` does nothing.
   *
   * @example Taking a provider out of rotation before maintenance
   * ```ts
   * import { RpcChannel, RpcProvider } from "../../mod.ts";
   * import { healthService } from "../ops/health_service.ts";
   * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
   * await provider.start();
   * provider.setServing(false);
   * const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
   * const { status } = await channel.stub(healthService()).Check!({ service: "" });
   * if (status !== "NOT_SERVING") throw new Error(String(status));
   * await channel.close();
   * await provider.close();
   * ```
   */
  setServing(serving: boolean): void {
    if (this.#closing !== undefined) serving = false;
    if (this.#serving === serving) return;
    this.#serving = serving;
    this.#pool?.setServing(serving);
    this.#logger.info(serving ? "provider serving" : "provider not serving");
    this.#healthChanged();
  }

  #healthChanged(): void {
    for (const listener of this.#healthListeners) listener();
  }

  /** Adds the routes of `service`; returns the names of the methods implemented. */
  #addRoutes(
    service: protobuf.Service,
    impl: Record<string, Handler>,
    duringDrain: boolean,
    lend = false,
  ): string[] {
    const descs = describeService(service);
    const byName = new Map<string, Handler>();
    for (const [key, fn] of Object.entries(impl) as Array<[string, Handler]>) {
      // A method's own name wins over another method's alias (`getItem` next to `GetItem`).
      const desc = descs.find((d) => d.name === key) ?? descs.find((d) => d.camelName === key);
      if (!desc) {
        throw new TypeError(
          `Service ${service.fullName.slice(1)} has no method "${key}" (methods: ${
            descs.map((d) => d.name).join(", ")
          })`,
        );
      }
      if (typeof fn !== "function") {
        throw new TypeError(`Implementation of ${desc.service}.${desc.name} is not a function`);
      }
      byName.set(desc.name, fn);
    }
    const methods: string[] = [];
    for (const desc of descs) {
      const handler = byName.get(desc.name);
      if (!handler) continue;
      let methodsOf = this.#routes.get(desc.service);
      if (methodsOf === undefined) this.#routes.set(desc.service, methodsOf = new Map());
      // Composed with the interceptors by start(); every route has the same shape (hot path).
      methodsOf.set(desc.name, {
        desc,
        handler,
        duringDrain,
        metrics: this.#metrics?.method(desc.service, desc.name),
        lend,
      });
      methods.push(desc.name);
    }
    return methods;
  }

  /**
   * Adds the built-in services the options ask for (unless a service of that name was added):
   * health (answered even while the provider drains) and reflection. They go through the
   * interceptors like any service, and are not announced in the registry (every provider has
   * them).
   */
  #addBuiltins(): void {
    const o = this.#options;
    if (o.health !== false && !this.#served.has(HEALTH_SERVICE)) {
      this.#addRoutes(
        healthService(),
        healthHandlers({
          serving: () => this.#serving,
          has: (name) => this.#served.has(name),
          closing: () => this.#closing !== undefined,
          onChange: (listener) => {
            this.#healthListeners.add(listener);
            return () => this.#healthListeners.delete(listener);
          },
        }),
        true,
      );
      this.#served.set(HEALTH_SERVICE, healthService());
    }
    if (o.reflection !== false && !this.#served.has(REFLECTION_SERVICE)) {
      this.#addRoutes(reflectionService(), reflectionHandlers(() => this.#served), false);
      this.#served.set(REFLECTION_SERVICE, reflectionService());
    }
  }

  /**
   * Adds interceptors that run around every handler of this provider, after (inside) those of
   * the `interceptors` option and those added before, whether the services were added before or
   * after. With `workers`, call it in the worker module's `setup(provider)` so that every event
   * loop applies them.
   *
   * @throws {TypeError} when an interceptor is not a function, or the provider has started.
   *
   * @example Refusing calls without a token
   * ```ts
   * import { Code, RpcError } from "../errors.ts";
   * import { RpcProvider } from "./rpc_provider.ts";
   * const provider = new RpcProvider().use((req, ctx, next) => {
   *   if (ctx.metadata["authorization"] === undefined) {
   *     throw new RpcError(Code.UNAUTHENTICATED, "no token");
   *   }
   *   return next(req, ctx);
   * });
   * await provider.close();
   * ```
   */
  use(...interceptors: Interceptor[]): this {
    if (this.#sealed || this.#listener !== undefined) {
      throw new TypeError("use() must be called before start()/run()");
    }
    for (const [i, fn] of interceptors.entries()) {
      if (typeof fn !== "function") {
        throw new TypeError(`Interceptor ${i} passed to use() is not a function: ${String(fn)}`);
      }
    }
    this.#interceptors.push(...interceptors);
    return this;
  }

  /** Where the provider listens (after {@linkcode RpcProvider.start}). */
  get address(): { host: string; port: number } {
    if (!this.#listener) throw new TypeError("The provider is not listening; call start() first");
    return this.#listener.addr;
  }

  /** Names of the services added, package-qualified. */
  get services(): string[] {
    return [...this.#services.keys()];
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Bytes of answers queued on native connections that their callers have not read yet
   * (each connection stops reading new requests above `maxUnsentBytes`).
   */
  get unsentBytes(): number {
    let n = 0;
    for (const c of this.#connections) if (c instanceof ServerConnection) n += c.unsentBytes;
    return n;
  }

  /** Calls being served. */
  get inflight(): number {
    return this.#running;
  }

  /**
   * Every counter now: per method calls by status code, latency histogram, calls in flight,
   * request and response bytes; open connections, the ZooKeeper session, logger drops. Empty
   * `methods` with the option `metrics: false`.
   *
   * With `workers > 1` it covers every event loop: each Worker counts on its own and posts its
   * counts to the main thread once a second and once more after closing; this adds the latest
   * counts of each Worker to its own. So while the provider runs, the Workers' share is at most about a
   * second old (counters never go down); once `close()` has resolved, every loop's final counts
   * are in.
   *
   * @example Counting a call
   * ```ts
   * import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message Msg { string text = 1; }
   *   service Echo { rpc Say(Msg) returns (Msg); }`);
   * const echo = root.lookupService("demo.Echo");
   * const provider = new RpcProvider().notifyService(echo, { Say: (req) => req });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * await channel.stub(echo).Say!({ text: "hi" });
   * const say = provider.metrics().methods.find((m) => m.method === "Say");
   * if (say?.calls["OK"] !== 1 || say.latency.count !== 1) throw new Error();
   * await channel.close();
   * await provider.close();
   * ```
   */
  metrics(): MetricsSnapshot {
    const own = this.#ownMetrics();
    const workers = this.#pool?.metrics() ?? [];
    return workers.length === 0 ? own : mergeSnapshots(own, workers.map((w) => w.metrics));
  }

  static {
    localMetrics = (p) => ({ metrics: p.#ownMetrics(), recent: p.#metrics?.recent.list() ?? [] });
  }

  /** This event loop's counters. */
  #ownMetrics(): MetricsSnapshot {
    return (this.#metrics ?? new CallMetrics("server", {
      connections: () => this.#connections.size,
      registry: this.#options.registry,
      logger: this.#logger,
    })).snapshot();
  }

  /**
   * The last slow or failed calls on every event loop, newest first, each marked with the loop
   * that served it (0: this thread; k: Worker k).
   */
  #recentCalls(): RecentCall[] {
    const own = { loop: 0, calls: this.#metrics?.recent.list() ?? [] };
    const workers = this.#pool?.metrics() ?? [];
    return mergeRecentCalls([own, ...workers.map((w) => ({ loop: w.loop, calls: w.recent }))]);
  }

  /**
   * Where the admin listener listens (option `admin`), once started; undefined without it.
   *
   * @example Reading the Prometheus text of a provider
   * ```ts
   * import { RpcProvider } from "../../mod.ts";
   * const provider = new RpcProvider({ host: "127.0.0.1", port: 0, admin: { port: 0 } });
   * await provider.start();
   * const { host, port } = provider.adminAddress!;
   * const text = await (await fetch(`http://${host}:${port}/metrics`)).text();
   * if (!text.includes("mprpc_server_connections")) throw new Error(text);
   * await provider.close();
   * ```
   */
  get adminAddress(): { host: string; port: number } | undefined {
    return this.#admin?.address;
  }

  /** Listens and registers the services. Idempotent. */
  start(): Promise<void> {
    return this.#started ??= this.#start();
  }

  /** Starts, then resolves only when the provider is closed (the original's `Run()`). */
  async run(): Promise<void> {
    await this.start();
    await this.#closed.promise;
  }

  async #start(): Promise<void> {
    const o = this.#options;
    const workers = o.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`workers must be an integer >= 1, got ${o.workers}`);
    }
    let module: string | undefined;
    if (workers > 1 || o.workerModule !== undefined) {
      if (o.workerModule === undefined) {
        throw new TypeError("workers > 1 needs workerModule (a module exporting setup(provider))");
      }
      if (workers > 1) this.#checkOnlySetupShapesCalls();
      module = new URL(o.workerModule, `file://${Deno.cwd()}/`).href;
      const mod = await importModule(new URL(module));
      const setup = mod.default ?? mod.setup;
      if (typeof setup !== "function") {
        throw new TypeError(`${module} must export a default setup(provider) function`);
      }
      await setup(this);
    }
    this.#addBuiltins();
    this.#seal();
    this.#listener = await listen({
      host: o.host ?? "127.0.0.1",
      port: o.port ?? 0,
      tls: o.tls,
      reusePort: o.reusePort || workers > 1,
      maxPendingHandshakes: o.maxPendingTlsHandshakes,
      handshakeTimeoutMs: o.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
      logger: this.#logger,
    });
    const { host, port } = this.#listener.addr;
    if (workers > 1) {
      this.#pool = new WorkerPool();
      try {
        await this.#pool.start(workers - 1, {
          module: module!,
          host,
          port,
          // Each event loop holds its share of the connection limit.
          options: { ...workerOptions(o), maxConnections: this.#maxConnections },
          forwardLogs: o.logger !== undefined,
        }, this.#logger);
      } catch (e) {
        this.#listener.close();
        throw e;
      }
      if (!this.#serving) this.#pool.setServing(false); // setServing(false) before start()
    }
    this.#logger.info("provider listening", {
      address: endpointKey(this.#listener.addr),
      tls: !!o.tls,
    });
    if (o.legacy) this.#other = legacyProtocol(this.#host, this.#services.keys());
    this.#acceptLoop = this.#accept(this.#listener);
    if (o.admin !== undefined) {
      try {
        this.#startAdmin(o.admin);
      } catch (e) {
        this.#logger.error("admin listener failed", { error: errorMessage(e) });
        await this.close({ graceMs: 0 });
        throw e;
      }
    }
    this.#startSweep(o.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS, o.idleTimeoutMs ?? 0);
    if (o.registry) {
      const advertised = o.advertiseHost ??
        (host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);
      for (const [service, methods] of this.#services) {
        const reg: ServiceRegistration = {
          service,
          methods,
          host: advertised,
          port,
          weight: o.weight ?? 1,
          legacy: o.legacy === true, // the C++ layout only for a provider speaking its protocol
        };
        try {
          await o.registry.register(reg);
        } catch (e) {
          this.#logger.error("registration failed", { service, error: String(e) });
          await this.close({ graceMs: 0 });
          throw e;
        }
        this.#registrations.push(reg);
        this.#logger.info("service registered", { service, address: endpointKey(reg) });
      }
    }
  }

  /**
   * Stops: turns health checks `NOT_SERVING` (at once, on every event loop), deregisters (so
   * callers move elsewhere), stops accepting, tells callers to send no new calls, lets calls in
   * flight finish up to `graceMs` (health checks are still answered meanwhile; health `Watch`
   * streams say `NOT_SERVING` and end as soon as `close()` starts), fails the rest
   * with `UNAVAILABLE`, then closes every connection. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.setServing(false); // before deregistering
    this.#closing = this.#close(options.graceMs ?? DEFAULT_GRACE_MS);
    this.#healthChanged(); // health Watch streams say NOT_SERVING and end
    return this.#closing;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(graceMs: number): Promise<void> {
    const registry = this.#options.registry;
    for (const reg of this.#registrations.splice(0)) {
      try {
        await registry!.unregister(reg);
      } catch (e) {
        this.#logger.warn("unregister failed", { service: reg.service, error: String(e) });
      }
    }
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    const admin = this.#admin?.close();
    const pool = this.#pool?.close(graceMs);
    closeQuietly(this.#listener);
    this.#acceptBackoff.wake();
    await this.#acceptLoop;
    for (const c of this.#connections) c.goAway();
    if (this.#running > 0 && graceMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#idleWaiters.push(r)),
        new Promise<void>((r) => timer = setTimeout(r, graceMs)),
      ]);
      clearTimeout(timer);
    }
    const shutdown = new RpcError(Code.UNAVAILABLE, "provider shut down before the call finished");
    for (const c of this.#connections) c.abortAll(shutdown);
    await Promise.all([...this.#connections].map((c) => c.close()));
    await pool;
    await admin;
    this.#wheel.close();
    this.#logger.info("provider closed");
    this.#closed.resolve();
  }

  async #accept(listener: Listener): Promise<void> {
    for (;;) {
      let accepted;
      try {
        accepted = await listener.accept();
      } catch (e) {
        if (this.#closing || e instanceof Deno.errors.BadResource) return;
        // Out of file descriptors (or another persistent failure): pause, doubling, not spin.
        await this.#acceptBackoff.failed(e);
        continue;
      }
      this.#acceptBackoff.succeeded();
      this.#serve(accepted.conn, accepted.peer);
    }
  }

  /**
   * The one seam between an accepted socket and a protocol: native, or (when the port serves
   * another protocol too) whichever the first bytes name.
   */
  #serve(conn: ByteStream, peer: PeerAddress): void {
    const other = this.#other;
    if (other === undefined || this.#closing) {
      this.#admit(new ServerConnection(this.#host, conn, peer));
      return;
    }
    const sniffer = new Sniffer(conn, peer, {
      logger: this.#logger,
      onSniffed: (s, c, head) => {
        this.#connections.delete(s);
        this.#admit(
          hasMagic(head)
            ? new ServerConnection(this.#host, c, peer, head)
            : other.accept(c, peer, head),
        );
      },
      onClosed: (s) => this.#connectionClosed(s),
    });
    this.#connections.add(sniffer);
    sniffer.start();
  }

  /** Holds and starts `c`, or refuses it while shutting down or above `maxConnections`. */
  #admit(c: AcceptedConnection): void {
    const max = this.#maxConnections;
    this.#connections.add(c);
    if (this.#closing) {
      c.goAway(Code.UNAVAILABLE, "provider is shutting down");
    } else if (this.#connections.size > max) {
      this.#logger.warn("connection refused: too many connections", {
        peer: endpointKey(c.peer),
        limit: max,
      });
      c.goAway(Code.RESOURCE_EXHAUSTED, `too many connections (limit ${max})`);
      void c.close().catch(() => {}); // closing a refused socket cannot fail meaningfully
    }
    c.start();
    this.#logger.debug("connection accepted", { peer: endpointKey(c.peer) });
  }

  #startSweep(readMs: number, idleMs: number): void {
    if (readMs <= 0 && idleMs <= 0) return;
    const every = Math.max(10, Math.min(1000, (readMs || idleMs) / 4, (idleMs || readMs) / 4));
    let last = Date.now();
    this.#idleTimer = setInterval(() => {
      const now = Date.now();
      const late = now - last > 2 * every + 50;
      last = now;
      // A sweep that runs late measures this process's own stall (a busy event loop), not the
      // peers': bytes they sent meanwhile may still wait to be read. The next sweep judges them.
      if (late) return;
      sweepConnections(this.#connections, { readMs, idleMs, logger: this.#logger, now });
    }, every);
    Deno.unrefTimer(this.#idleTimer as unknown as number);
  }

  /**
   * With Workers, whatever shapes a call must come from `setup(provider)` (which runs on every
   * event loop): options holding functions, and services or interceptors added to this provider
   * before, would reach the main thread only.
   */
  #checkOnlySetupShapesCalls(): void {
    workerOptions(this.#options); // throws for options that cannot reach a Worker
    if (this.#interceptors.length > 0) {
      throw new TypeError(
        "workers > 1: use() was called outside the worker module's setup(provider), so the " +
          "Workers would serve calls without these interceptors; call it in setup(provider)",
      );
    }
    if (this.#services.size > 0) {
      throw new TypeError(
        "workers > 1: notifyService() was called outside the worker module's setup(provider), " +
          `so the Workers would not serve ${[...this.#services.keys()].join(", ")}; ` +
          "call it in setup(provider)",
      );
    }
  }

  /**
   * Composes every route with the interceptors, once, and puts it in a trace span when tracing
   * is enabled (outermost, so the interceptors' own calls are in the trace); no services or
   * interceptors after.
   */
  #seal(): void {
    this.#sealed = true;
    const codeOf = (thrown: unknown) => thrownToRpcError(thrown).code;
    for (const methods of this.#routes.values()) {
      for (const route of methods.values()) {
        if (this.#interceptors.length > 0) {
          route.handler = compose(this.#interceptors, route.handler);
        }
        // A stream's span covers the whole stream: its ServerStream keeps it.
        if (route.desc.kind === "unary") route.handler = tracedHandler(route.handler, codeOf);
      }
    }
  }

  /** Starts the admin listener (metrics, console page, rpcz). */
  #startAdmin(admin: NonNullable<RpcProviderOptions["admin"]>): void {
    const registry = this.#options.registry;
    this.#admin = new AdminServer(admin, {
      describe: () => ({
        address: this.#listener ? endpointKey(this.#listener.addr) : "",
        services: this.services,
      }),
      metrics: () => this.metrics(),
      recentCalls: () => this.#recentCalls(),
      registryView: () =>
        registry === undefined ? Promise.resolve(undefined) : registryView(registry, this.services),
    }, this.#logger);
    this.#logger.info("admin listener", { address: endpointKey(this.#admin.address) });
  }

  #route(service: string, method: string): Route | string {
    const r = this.#routes.get(service)?.get(method);
    if (r) return r;
    if (!this.#served.has(service)) return `unknown service "${service}"`;
    return `unknown method "${method}" of service "${service}"`;
  }

  #callDelta(delta: number): void {
    this.#running += delta;
    if (this.#running === 0 && this.#idleWaiters.length > 0) {
      for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  #connectionClosed(conn: AcceptedConnection): void {
    this.#connections.delete(conn);
    this.#logger.debug("connection closed", { peer: endpointKey(conn.peer) });
  }
}
