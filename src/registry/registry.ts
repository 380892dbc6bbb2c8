/**
 * The seam between providers/callers and service discovery.
 *
 * @module
 */

/** One provider of a service, as a caller sees it. */
export interface Endpoint {
  /** Host name or IP address the provider listens on. */
  host: string;
  /** TCP port. */
  port: number;
  /** Relative weight for load balancing; default 1. */
  weight?: number;
  /** Method names the provider serves (informational). */
  methods?: string[];
}

/** What a provider announces for one service. */
export interface ServiceRegistration {
  /** Package-qualified service name without a leading dot, e.g. `fixbug.UserServiceRpc`. */
  service: string;
  /** Method names as written in the `.proto`. */
  methods: string[];
  /** Address callers should connect to. */
  host: string;
  /** Port callers should connect to. */
  port: number;
  /** Relative weight; default 1. */
  weight?: number;
  /**
   * Whether the provider speaks the C++ mprpc protocol: `true` asks a registry that supports it
   * to also announce it in the original's layout (`/<Service>/<Method>` = `ip:port`), `false`
   * that it must not; undefined leaves it to the registry's own setting (`legacyLayout`).
   * `RpcProvider` always sets it.
   */
  legacy?: boolean;
}

/** A change subscription; call `close()` to stop receiving updates. */
export interface RegistryWatch {
  /** Stops the updates. */
  close(): void;
}

/** Options of {@linkcode Registry.resolve}. */
export interface ResolveOptions {
  /**
   * Aborting it abandons the wait: `resolve` rejects at once (with the signal's reason when it is
   * an `RpcError`, else `CANCELLED`) and releases its timers and listeners. Work shared with other
   * callers (a ZooKeeper connection attempt, a read in flight) may go on for them.
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode Registry.watch}. */
export interface WatchOptions {
  /** Aborting it closes the watch, as `close()` does. */
  signal?: AbortSignal;
}

/**
 * Service discovery. {@linkcode StaticRegistry} and `ZooKeeperRegistry` implement it.
 *
 * Contract:
 * - `resolve` returns the current providers of a service (maybe empty). Implementations cache,
 *   so a caller may call it per connection attempt without a network round trip.
 * - `watch` calls `onChange` with the full new list whenever it changes, until closed.
 * - `close` unregisters what this instance registered and releases every resource.
 * - `resolve` and `watch` take an optional options object with a `signal`; an implementation
 *   written before it existed may ignore it (callers still bound their own wait), but one that can
 *   wait (on a network, a connection) should honour it.
 *
 * @example Bounding a lookup by a deadline
 * ```ts
 * import { StaticRegistry } from "./static_registry.ts";
 * const registry = new StaticRegistry({ "fixbug.UserServiceRpc": ["127.0.0.1:8000"] });
 * const giveUp = new AbortController(); // e.g. aborted by the caller's deadline
 * const list = await registry.resolve("fixbug.UserServiceRpc", { signal: giveUp.signal });
 * if (list.length !== 1) throw new Error();
 * await registry.close();
 * ```
 */
export interface Registry {
  /** Announces a provider of a service. */
  register(registration: ServiceRegistration): Promise<void>;
  /** Withdraws an announcement made with `register`. */
  unregister(registration: ServiceRegistration): Promise<void>;
  /** The current providers of `service` (package-qualified name). */
  resolve(service: string, options?: ResolveOptions): Promise<Endpoint[]>;
  /** Calls `onChange` with the whole new list each time the providers of `service` change. */
  watch(
    service: string,
    onChange: (endpoints: Endpoint[]) => void,
    options?: WatchOptions,
  ): RegistryWatch;
  /** Unregisters what this instance registered and releases every resource. */
  close(): Promise<void>;
}

export { endpointKey } from "../util/endpoint_key.ts";

/**
 * Parses `"host:port"` (or `"[v6]:port"`) into an endpoint.
 *
 * @example
 * ```ts
 * import { parseEndpoint } from "./registry.ts";
 * const e = parseEndpoint("[::1]:8000");
 * if (e.host !== "::1" || e.port !== 8000) throw new Error(JSON.stringify(e));
 * ```
 *
 * @throws {TypeError} when the text has no port or the port is not 1..65535.
 */
export function parseEndpoint(text: string): Endpoint {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text.trim());
  if (!m || m[1] === "") throw new TypeError(`Cannot parse endpoint "${text}": expected host:port`);
  const port = Number(m[2]);
  if (!(port >= 1 && port <= 65535)) {
    throw new TypeError(`Cannot parse endpoint "${text}": port ${m[2]} is out of range 1..65535`);
  }
  return { host: m[1]!, port };
}
