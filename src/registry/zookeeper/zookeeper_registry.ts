/**
 * Service discovery through ZooKeeper, compatible with the C++ mprpc's layout on request.
 * The layout and the failure behaviour are described in docs/zookeeper.md.
 *
 * @module
 */
import { errorMessage } from "../../util/error_message.ts";
import { Code, RpcError } from "../../errors.ts";
import { ConsoleLogger, type Logger } from "../../log/logger.ts";
import {
  type Endpoint,
  endpointKey,
  type Registry,
  type RegistryWatch,
  type ResolveOptions,
  type ServiceRegistration,
  type WatchOptions,
} from "../registry.ts";
import { abortReason, raceSignal } from "../../util/signals.ts";
import { copyEndpoint, ProviderCache } from "./provider_cache.ts";
import { checkRegistration, ProviderNodes } from "./provider_nodes.ts";
import { buildAcl, checkAcl } from "./zk_acl.ts";
import { loadZooKeeperClient } from "./zk_client.ts";
import { checkServiceName, legacyMethodPath, normalizeRoot, providerPath } from "./zk_layout.ts";
import {
  DEFAULT_DEBOUNCE_MS,
  DEFAULT_EMPTY_GRACE_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
  DEFAULT_ZOOKEEPER_ROOT,
  type ZooKeeperRegistryOptions,
} from "./zookeeper_registry_options.ts";
import {
  isTransient,
  ZkCode,
  zkCode,
  ZkError,
  type ZkRawAcl,
  ZkSession,
  type ZkState,
} from "./zk_session.ts";

export type { ZooKeeperRegistryOptions } from "./zookeeper_registry_options.ts";

/**
 * A {@linkcode Registry} on ZooKeeper. Providers own ephemeral nodes
 * `/<root>/<package.Service>/providers/<host>:<port>` (JSON data); callers cache each service's
 * list and keep a watch on it, so calls never touch ZooKeeper. Survives disconnections (callers
 * keep the last list) and session expiry (providers re-create their nodes in a new session).
 *
 * @example A provider and a caller
 * ```ts ignore
 * import { ZooKeeperRegistry } from "./zookeeper_registry.ts";
 * const provider = new ZooKeeperRegistry({ connect: "127.0.0.1:2181" });
 * await provider.register({
 *   service: "fixbug.UserServiceRpc", methods: ["Login"], host: "127.0.0.1", port: 8000,
 * });
 * const caller = new ZooKeeperRegistry({ connect: "127.0.0.1:2181" });
 * console.log(await caller.resolve("fixbug.UserServiceRpc")); // [{ host: "127.0.0.1", port: 8000, ... }]
 * const watch = caller.watch("fixbug.UserServiceRpc", (list) => console.log(list));
 * watch.close();
 * await caller.close();
 * await provider.close(); // its node disappears at once
 * ```
 */
export class ZooKeeperRegistry implements Registry {
  readonly #connect: string;
  readonly #root: string;
  readonly #sessionTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #auth: { scheme: "digest"; id: string } | undefined;
  readonly #log: Logger;
  readonly #nodes: ProviderNodes;
  readonly #cache: ProviderCache;

  #acl: Promise<ZkRawAcl[]> | undefined;
  #session: ZkSession | undefined;
  #sessionConnected = false;
  #everConnected = false;
  /** Connections after the first (same session resumed, or a new one). */
  #reconnects = 0;
  /** Sessions given up (expired, or presumed expired) and replaced. */
  #sessionsReplaced = 0;
  /** When the current connection came back after an outage (0: first connection). */
  #connectedAt = 0;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #waiters = new Set<() => void>();
  #reconciling: Promise<void> | undefined;
  #reconcileAgain = false;
  #tasks = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  /**
   * Creates the registry; it connects on first use.
   *
   * @throws {TypeError} for a malformed `connect`, `root`, `auth` or `acl`.
   * @throws {RangeError} for a negative or zero timeout.
   */
  constructor(options: ZooKeeperRegistryOptions) {
    const connect = options?.connect;
    if (
      typeof connect !== "string" ||
      !/^[^,/\s]+:\d+(,[^,/\s]+:\d+)*(\/\S*)?$/.test(connect.trim())
    ) {
      throw new TypeError(
        `Invalid ZooKeeper connect string ${
          JSON.stringify(connect)
        }: expected "host:port[,host:port]"`,
      );
    }
    this.#connect = connect.trim();
    this.#root = normalizeRoot(options.root ?? DEFAULT_ZOOKEEPER_ROOT);
    this.#sessionTimeoutMs = positive(
      "sessionTimeoutMs",
      options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
    );
    this.#connectTimeoutMs = positive(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
    );
    const debounceMs = positive("debounceMs", options.debounceMs ?? DEFAULT_DEBOUNCE_MS, true);
    const emptyGraceMs = positive(
      "emptyGraceMs",
      options.emptyGraceMs ?? DEFAULT_EMPTY_GRACE_MS,
      true,
    );
    if (options.auth !== undefined) {
      const { scheme, id } = options.auth;
      if (scheme !== "digest" || typeof id !== "string" || id.indexOf(":") <= 0) {
        throw new TypeError(
          `Invalid ZooKeeper auth ${
            JSON.stringify({ scheme, id: typeof id === "string" ? id.split(":")[0] + ":…" : id })
          }: expected { scheme: "digest", id: "user:password" }`,
        );
      }
      this.#auth = { scheme, id };
    }
    if (options.acl !== undefined) checkAcl(options.acl);
    const acl = options.acl?.map((e) => ({ ...e }));
    this.#log = options.logger ?? new ConsoleLogger();
    this.#nodes = new ProviderNodes({
      root: this.#root,
      legacyLayout: options.legacyLayout,
      acl: () => this.#acl ??= buildAcl(acl, this.#auth),
      log: this.#log,
      onForeignNodeGone: () => this.#scheduleReconcile(),
      startTime: new Date().toISOString(),
    });
    this.#cache = new ProviderCache({
      root: this.#root,
      debounceMs,
      emptyGraceMs,
      log: this.#log,
      session: () => this.#session,
      connectedAt: () => this.#connectedAt,
      track: (p) => void this.#track(p),
    });
  }

  /** The root path in use (`""` for the top level). */
  get root(): string {
    return this.#root;
  }

  /**
   * The session's state and what it went through, for metrics: `state` is `"connected"`,
   * `"connecting"`, `"disconnected"`, `"expired"` or `"closed"` (`"idle"` before first use).
   *
   * @example
   * ```ts
   * import { ZooKeeperRegistry } from "./zookeeper_registry.ts";
   * const registry = new ZooKeeperRegistry({ connect: "127.0.0.1:2181" });
   * if (registry.sessionStats().state !== "idle") throw new Error("connects on first use");
   * await registry.close();
   * ```
   */
  sessionStats(): ZooKeeperSessionStats {
    return {
      state: this.#closing ? "closed" : this.#session?.state ?? "idle",
      sessionId: this.sessionId,
      reconnects: this.#reconnects,
      sessionsReplaced: this.#sessionsReplaced,
      reregistrations: this.#nodes.reregistrations,
    };
  }

  /**
   * Package-qualified names of the services that have a node under the root (with providers
   * or not): the registry's whole view, for consoles and tools.
   *
   * @throws {RpcError} UNAVAILABLE when ZooKeeper cannot be reached within `connectTimeoutMs`.
   */
  async listServices(options?: ResolveOptions): Promise<string[]> {
    this.#checkOpen();
    const root = this.#root === "" ? "/" : this.#root;
    const names = await this.#withSession(
      "list services",
      (s) => s.getChildren(root),
      options?.signal,
    );
    return names.filter((n) => n !== "zookeeper").sort();
  }

  /** The current session id (`0x...`), or undefined before the first connection. */
  get sessionId(): string | undefined {
    return this.#session && this.#sessionConnected ? this.#session.sessionIdHex : undefined;
  }

  /**
   * Creates this provider's ephemeral node (and, with `legacyLayout` and `legacy: true`, the C++
   * layout's method nodes). Registering the same host:port again updates its data.
   *
   * @throws {RpcError} UNAVAILABLE when ZooKeeper cannot be reached within `connectTimeoutMs`;
   *   PERMISSION_DENIED when an ACL forbids writing.
   */
  async register(registration: ServiceRegistration): Promise<void> {
    this.#checkOpen();
    const reg = checkRegistration(registration);
    const { entry, previous } = this.#nodes.add(reg);
    try {
      await this.#withSession(`register ${reg.service} at ${endpointKey(reg)}`, async (s) => {
        await this.#nodes.ensure(s, entry);
        if (previous) await this.#nodes.removePending(s);
      });
    } catch (err) {
      this.#nodes.restore(entry, previous);
      throw err;
    }
    this.#log.info("registered in ZooKeeper", {
      service: reg.service,
      endpoint: endpointKey(reg),
      path: providerPath(this.#root, reg),
      session: this.#session?.sessionIdHex,
    });
  }

  /**
   * Deletes this provider's node(s) for the registration. When ZooKeeper is unreachable the
   * deletion happens on reconnection (or with the session); this never waits for ZooKeeper.
   */
  async unregister(registration: ServiceRegistration): Promise<void> {
    this.#checkOpen();
    const reg = checkRegistration(registration);
    if (!this.#nodes.remove(reg)) return;
    const s = this.#session;
    if (s?.state === "connected") {
      await this.#nodes.removePending(s).catch((err) =>
        this.#log.warn("ZooKeeper unregister deferred", { service: reg.service, error: err })
      );
    }
  }

  /**
   * The providers of a service. The first call reads ZooKeeper and leaves a watch; later calls
   * answer from the cache, which the watch keeps current.
   *
   * `options.signal` abandons the wait (the connection attempt goes on for other callers).
   *
   * @throws {RpcError} UNAVAILABLE when the list was never read and ZooKeeper cannot be reached
   *   within `connectTimeoutMs`; the signal's reason (an `RpcError`) or CANCELLED once
   *   `options.signal` aborts.
   */
  async resolve(service: string, options?: ResolveOptions): Promise<Endpoint[]> {
    this.#checkOpen();
    checkServiceName(service);
    const svc = this.#cache.service(service);
    if (!svc.loaded) {
      await this.#withSession(`resolve ${service}`, () => this.#cache.read(svc), options?.signal);
    }
    return svc.endpoints.map(copyEndpoint);
  }

  /**
   * Calls `onChange` with the full new list whenever the providers of `service` change (the
   * first time when the first read finds providers), until closed or `options.signal` aborts.
   */
  watch(
    service: string,
    onChange: (endpoints: Endpoint[]) => void,
    options?: WatchOptions,
  ): RegistryWatch {
    this.#checkOpen();
    checkServiceName(service);
    if (typeof onChange !== "function") {
      throw new TypeError("watch(service, onChange): onChange must be a function");
    }
    const signal = options?.signal;
    if (signal?.aborted) return { close() {} };
    const svc = this.#cache.service(service);
    svc.listeners.add(onChange);
    if (!svc.loaded && !svc.inflight) {
      // Background first read; if ZooKeeper is down now, the read on connection delivers it.
      this.#track(
        this.#withSession(`watch ${service}`, () => this.#cache.read(svc)).catch((err) =>
          this.#log.warn("ZooKeeper watch: first read failed; will read on connection", {
            service,
            error: err,
          })
        ),
      );
    }
    const close = () => {
      svc.listeners.delete(onChange);
      signal?.removeEventListener("abort", close);
    };
    signal?.addEventListener("abort", close, { once: true });
    return { close };
  }

  /**
   * The endpoint in the C++ layout's `/<serviceName>/<methodName>` node (`ip:port`), cached and
   * watched like {@linkcode ZooKeeperRegistry.resolve}; undefined when there is none.
   *
   * @throws {RpcError} UNAVAILABLE, or the abort's error, as for `resolve`.
   */
  async resolveLegacy(
    serviceName: string,
    methodName: string,
    options?: ResolveOptions,
  ): Promise<Endpoint | undefined> {
    this.#checkOpen();
    for (const [what, v] of [["service", serviceName], ["method", methodName]] as const) {
      if (typeof v !== "string" || v === "" || v.includes("/")) {
        throw new TypeError(`Invalid legacy ${what} name ${JSON.stringify(v)}`);
      }
    }
    const entry = this.#cache.legacy(legacyMethodPath(serviceName, methodName));
    if (!entry.loaded) {
      await this.#withSession(
        `resolve ${entry.path}`,
        () => this.#cache.read(entry),
        options?.signal,
      );
    }
    return entry.endpoint ? copyEndpoint(entry.endpoint) : undefined;
  }

  /** Deletes this process's nodes, closes the session, stops every timer. Idempotent. */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** Same as {@linkcode ZooKeeperRegistry.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    clearTimeout(this.#expiryTimer);
    this.#cache.close();
    for (const w of [...this.#waiters]) w();
    const s = this.#session;
    this.#session = undefined;
    this.#nodes.removeAll();
    if (s) {
      if (s.state === "connected") {
        // Graceful: delete our nodes now (closing the session would delete those of this
        // session too; this also covers nodes of ours left by an earlier session).
        await this.#nodes.removePending(s).catch((err) =>
          this.#log.warn("ZooKeeper close: could not delete all nodes", { error: err })
        );
      }
      await s.close(true);
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    this.#log.info("ZooKeeperRegistry closed", { connect: this.#connect });
  }

  #checkOpen(): void {
    if (this.#closing) {
      throw new RpcError(Code.FAILED_PRECONDITION, "ZooKeeperRegistry is closed");
    }
  }

  #openSession(): ZkSession {
    const s: ZkSession = new ZkSession(this.#connect, {
      sessionTimeoutMs: this.#sessionTimeoutMs,
      opTimeoutMs: this.#connectTimeoutMs,
      auth: this.#auth,
      onState: (state) => this.#onState(s, state),
      onError: (err) =>
        this.#log.error("ZooKeeper client failed to read a reply; reconnecting", { error: err }),
    });
    this.#session = s;
    this.#sessionConnected = false;
    return s;
  }

  /**
   * Runs `fn` with a connected session, retrying transient failures until the deadline; an
   * abort of `signal` ends the wait at once (the session goes on connecting for other callers).
   */
  async #withSession<T>(
    what: string,
    fn: (s: ZkSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const deadline = Date.now() + this.#connectTimeoutMs;
    const cancelled = () => abortReason(signal!.reason, `ZooKeeper ${what} cancelled`);
    let lastError: unknown;
    for (;;) {
      this.#checkOpen();
      if (signal?.aborted) throw cancelled();
      if (this.#session === undefined) await loadZooKeeperClient();
      const s = this.#session ?? this.#openSession();
      if (s.state !== "connected") await this.#waitConnected(deadline - Date.now(), signal);
      this.#checkOpen();
      if (signal?.aborted) throw cancelled();
      const current = this.#session;
      if (current?.state === "connected") {
        try {
          return await this.#beforeDeadline(fn(current), deadline, what, signal);
        } catch (err) {
          if (signal?.aborted) throw cancelled();
          if (!isTransient(err)) throw toRpcError(err, what);
          lastError = err;
        }
      }
      if (Date.now() >= deadline) {
        const msg = `ZooKeeper ${this.#connect} unreachable after ${this.#connectTimeoutMs} ms`;
        // Never connected (or reconnecting) and no operation tried: say so rather than nothing.
        const why = lastError ?? `not connected (session ${this.#session?.state ?? "closed"})`;
        this.#log.warn(msg, { op: what, error: why });
        throw new RpcError(Code.UNAVAILABLE, msg, { cause: why });
      }
      await this.#waitConnected(Math.min(50, deadline - Date.now()), signal, false);
    }
  }

  /**
   * `p`, or an OPERATION_TIMEOUT ZkError at the deadline, or the abort's error (`p` then goes on
   * in the background, tracked so that `close()` waits for it).
   */
  #beforeDeadline<T>(
    p: Promise<T>,
    deadline: number,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ZkError(ZkCode.OPERATION_TIMEOUT, "OPERATION_TIMEOUT", what, "")),
        Math.max(0, deadline - Date.now()),
      );
    });
    this.#track(p.catch(() => {})); // its outcome is read below, or no longer wanted
    return raceSignal(Promise.race([p, late]), signal).finally(() => clearTimeout(timer));
  }

  /**
   * Resolves after `ms`, or once `signal` aborts, or the registry closes, or (with
   * `onConnect`) once the current session is connected.
   */
  #waitConnected(ms: number, signal?: AbortSignal, onConnect = true): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (onConnect) this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  /** Session state changes (delivered from a microtask, never inside the client's callback). */
  #onState(s: ZkSession, state: ZkState): void {
    if (s !== this.#session || this.#closing) return;
    switch (state) {
      case "connected": {
        clearTimeout(this.#expiryTimer);
        this.#expiryTimer = undefined;
        const resumed = this.#sessionConnected;
        this.#sessionConnected = true;
        // Only a re-connection gets the empty-list grace: nothing was cached before the first.
        this.#connectedAt = this.#everConnected ? Date.now() : 0;
        if (this.#everConnected) this.#reconnects++;
        this.#everConnected = true;
        this.#nodes.pastSessions.add(s.sessionIdHex);
        this.#log.info(resumed ? "ZooKeeper reconnected" : "ZooKeeper connected", {
          connect: this.#connect,
          session: s.sessionIdHex,
          sessionTimeoutMs: s.sessionTimeoutMs,
        });
        for (const w of [...this.#waiters]) w();
        this.#scheduleReconcile();
        break;
      }
      case "disconnected": {
        const timeout = s.sessionTimeoutMs;
        this.#log.warn("ZooKeeper disconnected; callers keep the cached providers", {
          connect: this.#connect,
          session: s.sessionIdHex,
        });
        clearTimeout(this.#expiryTimer);
        // The server expires the session after `timeout` without us, but the client would only
        // learn it on reconnection: assume it now and start a fresh session.
        this.#expiryTimer = setTimeout(() => {
          this.#expiryTimer = undefined;
          if (this.#session === s && s.state !== "connected") {
            this.#replaceSession(
              s,
              `disconnected for longer than the session timeout (${timeout} ms)`,
            );
          }
        }, timeout);
        break;
      }
      case "expired":
        this.#replaceSession(s, "expired");
        break;
      case "closed":
        // Not expected (authentication failed?): retry in a second rather than in a loop.
        clearTimeout(this.#expiryTimer);
        this.#expiryTimer = setTimeout(
          () => {
            if (this.#session === s && !this.#closing) {
              this.#replaceSession(s, "was closed by the client (authentication failed?)");
            }
          },
          1000,
        );
        break;
    }
  }

  #replaceSession(old: ZkSession, reason: string): void {
    this.#sessionsReplaced++;
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#log.warn(`ZooKeeper session ${old.sessionIdHex} ${reason}; opening a new session`, {
      connect: this.#connect,
      recreate: this.#nodes.nodeCount,
    });
    this.#session = undefined;
    this.#track(old.close(false));
    this.#openSession();
  }

  /** After each (re)connection: nodes back, deferred deletions done, watches re-armed. */
  #scheduleReconcile(): void {
    if (this.#reconciling) {
      this.#reconcileAgain = true;
      return;
    }
    this.#reconciling = this.#track(
      (async () => {
        do {
          this.#reconcileAgain = false;
          const s = this.#session;
          if (!s || s.state !== "connected" || this.#closing) return;
          await this.#nodes.reconcile(s, () => this.#closing !== undefined);
          this.#cache.refreshAll();
        } while (this.#reconcileAgain && !this.#closing);
      })().finally(() => this.#reconciling = undefined),
    );
  }

  #track<T>(p: Promise<T>): Promise<T> {
    const t = p.finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
    return t;
  }
}

function positive(name: string, value: number, zeroOk = false): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)
  ) {
    const what = zeroOk ? "non-negative" : "positive";
    throw new RangeError(`ZooKeeperRegistry ${name} must be a ${what} number of ms, got ${value}`);
  }
  return value;
}

function toRpcError(err: unknown, what: string): RpcError {
  if (err instanceof RpcError) return err;
  const code = zkCode(err);
  const message = errorMessage(err);
  if (code === ZkCode.NO_AUTH || code === ZkCode.INVALID_ACL || code === ZkCode.AUTH_FAILED) {
    return new RpcError(
      Code.PERMISSION_DENIED,
      `ZooKeeper denied ${what}: ${message} (check the registry's auth/acl)`,
      { cause: err },
    );
  }
  return new RpcError(Code.UNAVAILABLE, `ZooKeeper ${what} failed: ${message}`, { cause: err });
}

/** What {@linkcode ZooKeeperRegistry.sessionStats} reports. */
export interface ZooKeeperSessionStats {
  /** The session's state (`"idle"` before first use, `"closed"` once closed). */
  state: string;
  /** The connected session's id (`0x...`), if connected. */
  sessionId: string | undefined;
  /** Connections after the first one. */
  reconnects: number;
  /** Sessions that expired (or were presumed expired) and were replaced by a new one. */
  sessionsReplaced: number;
  /** Registrations whose nodes had to be re-created after a reconnection. */
  reregistrations: number;
}
