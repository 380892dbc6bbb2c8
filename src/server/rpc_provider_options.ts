/**
 * The options of `RpcProvider` and of its `close()`.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { Registry } from "../registry/registry.ts";
import type { TlsServerOptions } from "../transport/listen.ts";
import type { Interceptor } from "./interceptor.ts";
import type { AdminOptions } from "../observe/admin_server.ts";

/**
 * Options of one service, the third argument of `provider.notifyService(service, impl, options)`.
 *
 * @example Lending request buffers to one service's handlers only
 * ```ts
 * import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
 * const root = parseProto(`syntax = "proto3"; package demo;
 *   message Blob { bytes data = 1; } message Size { uint32 n = 1; }
 *   service Upload { rpc Put(Blob) returns (Size); }
 *   service Archive { rpc Keep(Blob) returns (Size); }`);
 * const kept: Uint8Array[] = [];
 * const provider = new RpcProvider({ port: 0 });
 * provider.notifyService(root.lookupService("demo.Upload"), {
 *   Put: (req) => ({ n: (req.data as Uint8Array).length }), // reads data before returning
 * }, { lendRequestBytes: true });
 * provider.notifyService(root.lookupService("demo.Archive"), {
 *   Keep: (req) => ({ n: kept.push(req.data as Uint8Array) }), // keeps data: not lent
 * });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address });
 * const put = channel.stub(root.lookupService("demo.Upload")).Put!;
 * const keep = channel.stub(root.lookupService("demo.Archive")).Keep!;
 * await keep({ data: new Uint8Array(50_000).fill(7) });
 * for (let i = 0; i < 3; i++) await put({ data: new Uint8Array(50_000).fill(i) });
 * if (kept[0]!.some((b) => b !== 7)) throw new Error("a kept request was overwritten");
 * await channel.close();
 * await provider.close();
 * ```
 */
export interface ServiceOptions {
  /**
   * Lend this service's unary handlers the receive buffer (see
   * `RpcProviderOptions.lendRequestBytes`, whose value it overrides for this service).
   */
  lendRequestBytes?: boolean | undefined;
}

/** Options of `RpcProvider`. */
export interface RpcProviderOptions {
  /** Address to listen on; default `127.0.0.1`. */
  host?: string | undefined;
  /** Port to listen on; `0` (default) picks a free one, see `RpcProvider.address`. */
  port?: number | undefined;
  /** Where to announce services; none by default. */
  registry?: Registry | undefined;
  /** Host callers should connect to, when it differs from `host` (e.g. `host` is `0.0.0.0`). */
  advertiseHost?: string | undefined;
  /** Load-balancing weight announced with the services; default 1. */
  weight?: number | undefined;
  /**
   * Largest frame body accepted; default 4 MiB. Callers learn it in the handshake and fail a
   * larger request with `RESOURCE_EXHAUSTED` before sending it.
   */
  maxMessageBytes?: number | undefined;
  /**
   * Where to log connections, registrations and errors; default: WARN and above to stderr.
   * With `workers`, the Workers send their lines here (with a `worker` field naming the Worker).
   */
  logger?: Logger | undefined;
  /**
   * Accepted connections at most at once (per event loop); more are refused with
   * `RESOURCE_EXHAUSTED`. Default 10 000, or less when the process's open-file limit is lower:
   * that limit minus 64, divided among the `workers` (see docs/security.md). The limit is read
   * from `/proc/self/limits` only when read permission for it is granted (it never prompts);
   * without it the default stays 10 000 whatever the limit, so set this option (or allow that
   * read) when the process runs with fewer descriptors.
   */
  maxConnections?: number | undefined;
  /**
   * Backpressure: a connection whose answers waiting to be written pass this many bytes (its
   * caller sends requests but does not read the answers) is not read from until half of them
   * have been written. Default 1 MiB (`DEFAULT_MAX_UNSENT_BYTES`).
   */
  maxUnsentBytes?: number | undefined;
  /** Calls in flight per connection at most; more are answered `RESOURCE_EXHAUSTED`. */
  maxInflightPerConnection?: number | undefined;
  /**
   * Streaming calls open at once per connection at most (default 1000,
   * `DEFAULT_MAX_STREAMS_PER_CONNECTION`); a stream opened over it is answered
   * `RESOURCE_EXHAUSTED`.
   */
  maxStreamsPerConnection?: number | undefined;
  /**
   * Lend unary handlers the connection's receive buffer instead of copying: the request's
   * `bytes` fields are views into it, valid until the handler's result settles (its answer is
   * encoded by then), after which the buffer is read into again. A handler that keeps such a
   * field longer (stores it, or hands it to work that goes on after its result settles) must
   * copy it (`bytes.slice()`). A connection starts lending at its first request to such a
   * method: that request is copied. It saves allocating and copying every large request; streaming
   * methods and the `"mprpc-legacy"` protocol always copy. Default false; a service can set its
   * own (`notifyService`'s {@linkcode ServiceOptions}).
   *
   * @example A provider whose handler reads large uploads without a copy per call
   * ```ts
   * import { parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
   * const root = parseProto(`syntax = "proto3"; package demo;
   *   message Blob { bytes data = 1; } message Size { uint32 n = 1; }
   *   service Store { rpc Put(Blob) returns (Size); }`);
   * const provider = new RpcProvider({ port: 0, lendRequestBytes: true });
   * provider.notifyService(root.lookupService("demo.Store"), {
   *   // data is valid until Put returns: it is read (summed here) before then.
   *   Put: (req) => ({ n: (req.data as Uint8Array).reduce((a, b) => a + b, 0) }),
   * });
   * await provider.start();
   * const channel = new RpcChannel({ address: provider.address });
   * const res = await channel.stub(root.lookupService("demo.Store")).Put!({
   *   data: new Uint8Array(100_000).fill(1),
   * });
   * if (res.n !== 100_000) throw new Error(String(res.n));
   * await channel.close();
   * await provider.close();
   * ```
   */
  lendRequestBytes?: boolean | undefined;
  /** Calls slower than this are logged as slow; default 1000 ms. */
  slowCallMs?: number | undefined;
  /**
   * Closes connections idle (no bytes, no calls) for this long; default 0 = never. The close
   * sends GOAWAY first, so a call crossing it is sent again by the caller, never failed.
   */
  idleTimeoutMs?: number | undefined;
  /**
   * Closes a stalled connection: one that has sent nothing since it connected, or that holds an
   * unfinished frame without progress (neither a frame completed nor 1 KiB received) for this
   * long; default 30000 ms.
   */
  readTimeoutMs?: number | undefined;
  /**
   * Run around every handler, outermost first (authentication, logging, metrics); see also
   * `RpcProvider.use`. With `workers > 1` this option makes `start()` throw (functions
   * cannot reach a Worker): call `provider.use(...)` in the worker module's `setup(provider)`.
   */
  interceptors?: Interceptor[] | undefined;
  /** Serve over TLS with these certificates instead of plain TCP. */
  tls?: TlsServerOptions | undefined;
  /**
   * With `tls`: TLS handshakes in progress at most; at the limit no more connections are
   * accepted until one ends. Default 256. A handshake not finished within `readTimeoutMs` is
   * logged, but its socket stays open until the peer sends or closes (Deno cannot release it
   * earlier; see docs/security.md), so this is what bounds such peers.
   */
  maxPendingTlsHandshakes?: number | undefined;
  /**
   * Event loops serving the port: `workers - 1` Workers run next to the main thread, each with
   * its own provider on the same port (`SO_REUSEPORT`: run with `--unstable-net`). Needs
   * `workerModule`. Default 1.
   *
   * Each Worker's provider gets the limits and timeouts of these options (`maxMessageBytes`,
   * `maxConnections`, `maxInflightPerConnection`, `slowCallMs`, `maxUnsentBytes`,
   * `idleTimeoutMs`, `readTimeoutMs`, `legacy`, `lendRequestBytes`), applied per event loop, and logs into `logger`. Functions cannot
   * reach a Worker, so with `workers > 1` `start()` throws a `TypeError` when `interceptors` or
   * `tls` is set, or when services or interceptors were added to this provider outside
   * `setup(provider)`: add them in the worker module instead, so every event loop has them.
   */
  workers?: number | undefined;
  /**
   * With `workers`: a module whose default export `setup(provider)` adds the services
   * (`provider.notifyService(...)`) and interceptors (`provider.use(...)`). It runs in the main
   * thread and in every Worker, before `start()`; if it throws anywhere, `start()` rejects and
   * every Worker is stopped.
   *
   * @example A worker module with token authentication on every event loop
   * ```ts ignore
   * // services.ts
   * import { loadProto, type RpcProvider, tokenAuth } from "./mod.ts";
   * export default async function setup(provider: RpcProvider) {
   *   const root = await loadProto("examples/user/user.proto");
   *   provider.use(tokenAuth({ verify: (t) => t === Deno.env.get("API_TOKEN") }));
   *   provider.notifyService(root.lookupService("fixbug.UserServiceRpc"), {
   *     Login: () => ({ success: true }),
   *   });
   * }
   * // main.ts
   * const provider = new RpcProvider({ port: 8000, workers: 4, workerModule: "./services.ts" });
   * await provider.run();
   * ```
   */
  workerModule?: string | URL | undefined;
  /** Listen with `SO_REUSEPORT` (needs `--unstable-net`); set by `workers`. */
  reusePort?: boolean | undefined;
  /**
   * Also serve the original C++ mprpc's protocol on the same port (told apart by the first four
   * bytes; see docs/mprpc-compat.md), and ask the registry to write its ZooKeeper layout too.
   * Default false.
   */
  legacy?: boolean | undefined;
  /**
   * Serve the built-in health service `mprpc.health.v1.Health` (proto/health.proto): `Check`
   * answers `SERVING`, or `NOT_SERVING` after `setServing(false)` and from the moment `close()`
   * starts (before deregistering, and while calls drain). Default true; `false` leaves it out.
   * Like every service it runs inside the interceptors; unlike them it is not announced in the
   * registry (every provider has it). See docs/operations.md.
   */
  health?: boolean | undefined;
  /**
   * Serve the built-in reflection service `mprpc.reflection.v1.Reflection`
   * (proto/reflection.proto): the names of the services served and their `.proto` descriptors,
   * which `mprpc ls/describe/call --address` use. Default true; `false` leaves it out (e.g. to
   * keep the schema private; interceptors such as `tokenAuth` also guard it). Not announced in
   * the registry. See docs/operations.md.
   */
  reflection?: boolean | undefined;
  /**
   * Keep per-method metrics (see `RpcProvider.metrics`); default true. `false` skips every
   * counter on the call path.
   */
  metrics?: boolean | undefined;
  /**
   * Serve the admin HTTP listener at `{ host, port }` (default host `127.0.0.1`): Prometheus
   * text at `GET /metrics`, the console page at `/`, the last slow or failed calls at `/rpcz`
   * (see docs/operations.md). Off by default. Not authenticated: keep it on a private address.
   */
  admin?: AdminOptions | undefined;
}

/** Options of `RpcProvider.close`. */
export interface CloseOptions {
  /** How long in-flight calls may run before they are failed; default 5000 ms. */
  graceMs?: number;
}
