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

/**
 * Service discovery. {@linkcode StaticRegistry} and `ZooKeeperRegistry` implement it.
 *
 * Contract:
 * - `resolve` returns the current providers of a service (maybe empty). Implementations cache,
 *   so a caller may call it per connection attempt without a network round trip.
 * - `watch` calls `onChange` with the full new list whenever it changes, until closed.
 * - `close` unregisters what this instance registered and releases every resource.
 */
export interface Registry {
  /** Announces a provider of a service. */
  register(registration: ServiceRegistration): Promise<void>;
  /** Withdraws an announcement made with `register`. */
  unregister(registration: ServiceRegistration): Promise<void>;
  /** The current providers of `service` (package-qualified name). */
  resolve(service: string): Promise<Endpoint[]>;
  /** Calls `onChange` with the whole new list each time the providers of `service` change. */
  watch(service: string, onChange: (endpoints: Endpoint[]) => void): RegistryWatch;
  /** Unregisters what this instance registered and releases every resource. */
  close(): Promise<void>;
}

/** `"host:port"` of an endpoint (IPv6 hosts in brackets). */
export function endpointKey(e: { host: string; port: number }): string {
  return e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/**
 * Parses `"host:port"` (or `"[v6]:port"`) into an endpoint.
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
