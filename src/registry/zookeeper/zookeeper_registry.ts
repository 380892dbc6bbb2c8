/**
 * Service discovery through ZooKeeper, compatible with the C++ mprpc's layout on request.
 * The layout and the failure behaviour are described in docs/zookeeper.md.
 *
 * @module
 */
import { Buffer, zookeeper } from "../../deps.ts";
import { Code, RpcError } from "../../errors.ts";
import { ConsoleLogger, type Logger } from "../../log/logger.ts";
import {
  type Endpoint,
  endpointKey,
  type Registry,
  type RegistryWatch,
  type ServiceRegistration,
} from "../registry.ts";
import { buildAcl, checkAcl, type ZooKeeperAclEntry } from "./zk_acl.ts";
import {
  checkServiceName,
  decodeLegacy,
  decodeProvider,
  encodeLegacy,
  encodeProvider,
  legacyMethodPath,
  legacyServiceName,
  legacyServicePath,
  normalizeRoot,
  providerPath,
  providersPath,
  sameEndpoints,
  sortEndpoints,
} from "./zk_layout.ts";
import {
  isTransient,
  sessionHex,
  ZkCode,
  zkCode,
  ZkError,
  type ZkRawAcl,
  ZkSession,
  type ZkState,
} from "./zk_session.ts";

/** Options of {@linkcode ZooKeeperRegistry}. */
export interface ZooKeeperRegistryOptions {
  /** Ensemble, `"host:port[,host:port...]"`. */
  connect: string;
  /** Path under which services live. Default `"/mprpc"`. */
  root?: string;
  /** Requested session timeout, ms (the server clamps it to its min/max). Default 30000. */
  sessionTimeoutMs?: number;
  /** How long `register`/`resolve` wait for ZooKeeper before failing UNAVAILABLE, ms. Default 10000. */
  connectTimeoutMs?: number;
  /** Digest credentials, `{ scheme: "digest", id: "user:password" }`, sent on every connect. */
  auth?: { scheme: "digest"; id: string };
  /**
   * ACL of the nodes this registry creates. Default: with `auth`, ALL for that identity and
   * READ for everyone; without, open (world ALL).
   */
  acl?: ZooKeeperAclEntry[];
  /** Also write (and allow reading) the C++ mprpc's `/<Service>/<Method>` = `ip:port` nodes. */
  legacyLayout?: boolean;
  /** Where to log. Default a {@linkcode ConsoleLogger} at WARN. */
  logger?: Logger;
  /** Delay that coalesces bursts of watch events into one re-read, ms. Default 50. */
  debounceMs?: number;
  /**
   * After a (re)connection, an empty provider list does not replace a non-empty cached one
   * until this much time has passed (providers may still be re-registering), ms. Default 3000.
   */
  emptyGraceMs?: number;
}

interface Registration {
  reg: ServiceRegistration;
  data: Buffer;
  /** The session in which the nodes were last confirmed. */
  session: string | undefined;
}

interface CachedService {
  name: string;
  endpoints: Endpoint[];
  loaded: boolean;
  listeners: Set<(endpoints: Endpoint[]) => void>;
  timer: ReturnType<typeof setTimeout> | undefined;
  inflight: Promise<void> | undefined;
  dirty: boolean;
  watcher: () => void;
}

interface CachedLegacy {
  path: string;
  endpoint: Endpoint | undefined;
  loaded: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  inflight: Promise<void> | undefined;
  dirty: boolean;
  watcher: () => void;
}

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
  readonly #aclOption: ZooKeeperAclEntry[] | undefined;
  readonly #legacyLayout: boolean;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #emptyGraceMs: number;
  readonly #startTime = new Date().toISOString();

  #acl: Promise<ZkRawAcl[]> | undefined;
  #session: ZkSession | undefined;
  #sessionConnected = false;
  #everConnected = false;
  /** When the current connection came back after an outage (0: first connection). */
  #connectedAt = 0;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #pastSessions = new Set<string>();
  #waiters = new Set<() => void>();
  #regs = new Map<string, Registration>();
  /** Node paths to delete → whether the path is ours alone (false: legacy, check the owner). */
  #pendingRemovals = new Map<string, boolean>();
  readonly #reconcileWatcher = () => this.#scheduleReconcile();
  #services = new Map<string, CachedService>();
  #legacy = new Map<string, CachedLegacy>();
  #reconciling: Promise<void> | undefined;
  #reconcileAgain = false;
  #tasks = new Set<Promise<unknown>>();
  #closing: Promise<void> | undefined;

  /**
   * Creates the registry; it connects on first use.
   *
   * @throws {TypeError} for a malformed `connect`, `root`, `auth` or `acl`.
   * @throws {RangeError} for a non-positive timeout.
   */
  constructor(options: ZooKeeperRegistryOptions) {
    const connect = options?.connect;
    if (
      typeof connect !== "string" ||
      !/^[^,/\s]+:\d+(,[^,/\s]+:\d+)*(\/.*)?$/.test(connect.trim())
    ) {
      throw new TypeError(
        `Invalid ZooKeeper connect string ${
          JSON.stringify(connect)
        }: expected "host:port[,host:port]"`,
      );
    }
    this.#connect = connect.trim();
    this.#root = normalizeRoot(options.root ?? "/mprpc");
    this.#sessionTimeoutMs = positive("sessionTimeoutMs", options.sessionTimeoutMs ?? 30_000);
    this.#connectTimeoutMs = positive("connectTimeoutMs", options.connectTimeoutMs ?? 10_000);
    this.#debounceMs = positive("debounceMs", options.debounceMs ?? 50, true);
    this.#emptyGraceMs = positive("emptyGraceMs", options.emptyGraceMs ?? 3000, true);
    if (options.auth !== undefined) {
      const { scheme, id } = options.auth;
      if (scheme !== "digest" || typeof id !== "string" || id.indexOf(":") <= 0) {
        throw new TypeError(
          `Invalid ZooKeeper auth scheme "${scheme}": expected { scheme: "digest", id: "user:password" }`,
        );
      }
      this.#auth = { scheme, id };
    }
    if (options.acl !== undefined) checkAcl(options.acl);
    this.#aclOption = options.acl?.map((e) => ({ ...e }));
    this.#legacyLayout = options.legacyLayout ?? false;
    this.#log = options.logger ?? new ConsoleLogger("WARN");
  }

  /** The root path in use (`""` for the top level). */
  get root(): string {
    return this.#root;
  }

  /** The current session id (`0x...`), or undefined before the first connection. */
  get sessionId(): string | undefined {
    return this.#session && this.#sessionConnected ? this.#session.sessionIdHex : undefined;
  }

  /**
   * Creates this provider's ephemeral node (and the legacy nodes when enabled). Registering the
   * same host:port again updates its data.
   *
   * @throws {RpcError} UNAVAILABLE when ZooKeeper cannot be reached within `connectTimeoutMs`;
   *   PERMISSION_DENIED when an ACL forbids writing.
   */
  async register(registration: ServiceRegistration): Promise<void> {
    this.#checkOpen();
    const reg = checkRegistration(registration);
    const key = regKey(reg);
    const entry: Registration = {
      reg,
      data: encodeProvider(reg, this.#startTime),
      session: undefined,
    };
    const previous = this.#regs.get(key);
    this.#regs.set(key, entry);
    const paths = this.#nodePaths(entry);
    for (const [p] of paths) this.#pendingRemovals.delete(p);
    try {
      await this.#withSession(`register ${reg.service} at ${endpointKey(reg)}`, async (s) => {
        await this.#ensureNodes(s, entry);
        if (previous) {
          // Legacy method nodes the new registration no longer has.
          const keep = new Set(paths.map(([p]) => p));
          for (const [p, own] of this.#nodePaths(previous)) {
            if (!keep.has(p)) this.#pendingRemovals.set(p, own);
          }
          await this.#removePending(s);
        }
      });
    } catch (err) {
      if (this.#regs.get(key) === entry) {
        if (previous) this.#regs.set(key, previous);
        else this.#regs.delete(key);
      }
      throw err;
    }
    if (this.#regs.get(key) !== entry) await this.#dropStale(entry);
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
    const entry = this.#regs.get(regKey(reg));
    if (!entry) return;
    this.#regs.delete(regKey(reg));
    for (const [p, own] of this.#nodePaths(entry)) this.#pendingRemovals.set(p, own);
    const s = this.#session;
    if (s?.state === "connected") {
      await this.#removePending(s).catch((err) =>
        this.#log.warn("ZooKeeper unregister deferred", { service: reg.service, error: err })
      );
    }
  }

  /**
   * The providers of a service. The first call reads ZooKeeper and leaves a watch; later calls
   * answer from the cache, which the watch keeps current.
   *
   * @throws {RpcError} UNAVAILABLE when the list was never read and ZooKeeper cannot be reached
   *   within `connectTimeoutMs`.
   */
  async resolve(service: string): Promise<Endpoint[]> {
    this.#checkOpen();
    checkServiceName(service);
    const svc = this.#service(service);
    if (!svc.loaded) {
      await this.#withSession(`resolve ${service}`, () => this.#readService(svc));
    }
    return svc.endpoints.map(copyEndpoint);
  }

  /** Calls `onChange` with the full new list whenever the providers of `service` change. */
  watch(service: string, onChange: (endpoints: Endpoint[]) => void): RegistryWatch {
    this.#checkOpen();
    checkServiceName(service);
    if (typeof onChange !== "function") {
      throw new TypeError("watch(service, onChange): onChange must be a function");
    }
    const svc = this.#service(service);
    svc.listeners.add(onChange);
    if (!svc.loaded && !svc.inflight) {
      // Background first read; if ZooKeeper is down now, the read on connection delivers it.
      this.#track(
        this.#withSession(`watch ${service}`, () => this.#readService(svc)).catch((err) =>
          this.#log.warn("ZooKeeper watch: first read failed; will read on connection", {
            service,
            error: err,
          })
        ),
      );
    }
    return { close: () => void svc.listeners.delete(onChange) };
  }

  /**
   * The endpoint in the C++ layout's `/<serviceName>/<methodName>` node (`ip:port`), cached and
   * watched like {@linkcode ZooKeeperRegistry.resolve}; undefined when there is none.
   *
   * @throws {RpcError} UNAVAILABLE as for `resolve`.
   */
  async resolveLegacy(serviceName: string, methodName: string): Promise<Endpoint | undefined> {
    this.#checkOpen();
    for (const [what, v] of [["service", serviceName], ["method", methodName]] as const) {
      if (typeof v !== "string" || v === "" || v.includes("/")) {
        throw new TypeError(`Invalid legacy ${what} name ${JSON.stringify(v)}`);
      }
    }
    const path = legacyMethodPath(serviceName, methodName);
    let entry = this.#legacy.get(path);
    if (!entry) {
      const e: CachedLegacy = {
        path,
        endpoint: undefined,
        loaded: false,
        timer: undefined,
        inflight: undefined,
        dirty: false,
        watcher: () => this.#schedule(e),
      };
      this.#legacy.set(path, entry = e);
    }
    const legacy = entry;
    if (!legacy.loaded) {
      await this.#withSession(`resolve ${path}`, () => this.#readLegacy(legacy));
    }
    return legacy.endpoint ? copyEndpoint(legacy.endpoint) : undefined;
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
    for (const c of [...this.#services.values(), ...this.#legacy.values()]) clearTimeout(c.timer);
    for (const w of [...this.#waiters]) w();
    const s = this.#session;
    this.#session = undefined;
    if (s) {
      if (s.state === "connected") {
        for (const entry of this.#regs.values()) {
          for (const [p, own] of this.#nodePaths(entry)) this.#pendingRemovals.set(p, own);
        }
        this.#regs.clear();
        // Graceful: delete our nodes now (closing the session would too; this also covers
        // nodes of ours left by an earlier session).
        await this.#removePending(s).catch((err) =>
          this.#log.warn("ZooKeeper close: could not delete all nodes", { error: err })
        );
      }
      await s.close(true);
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    for (const c of [...this.#services.values(), ...this.#legacy.values()]) clearTimeout(c.timer);
    this.#regs.clear();
    this.#services.clear();
    this.#legacy.clear();
    this.#log.info("ZooKeeperRegistry closed", { connect: this.#connect });
  }

  // ---- sessions -------------------------------------------------------------------------

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

  /** Runs `fn` with a connected session, retrying transient failures until the deadline. */
  async #withSession<T>(what: string, fn: (s: ZkSession) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#connectTimeoutMs;
    let lastError: unknown;
    for (;;) {
      this.#checkOpen();
      const s = this.#session ?? this.#openSession();
      if (s.state !== "connected") await this.#waitConnected(deadline - Date.now());
      const current = this.#session;
      if (this.#closing || !current) this.#checkOpen();
      if (current && current.state === "connected") {
        try {
          return await fn(current);
        } catch (err) {
          if (!isTransient(err)) throw toRpcError(err, what);
          lastError = err;
        }
      }
      if (Date.now() >= deadline) {
        const msg = `ZooKeeper ${this.#connect} unreachable after ${this.#connectTimeoutMs} ms`;
        this.#log.warn(msg, { op: what, error: lastError });
        throw new RpcError(Code.UNAVAILABLE, msg, lastError ? { cause: lastError } : {});
      }
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
    }
  }

  /** Resolves once the current session is connected, the registry closes, or after `ms`. */
  #waitConnected(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

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
        this.#everConnected = true;
        this.#pastSessions.add(s.sessionIdHex);
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
        // The server expires the session after `timeout` without us; the client would only
        // learn it on reconnection, so assume it now and start a fresh session.
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
        this.#replaceSession(s, "was closed by the client (authentication failed?)");
        break;
    }
  }

  #replaceSession(old: ZkSession, reason: string): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    const nodes = [...this.#regs.values()].reduce((n, e) => n + this.#nodePaths(e).length, 0);
    this.#log.warn(`ZooKeeper session ${old.sessionIdHex} ${reason}; opening a new session`, {
      connect: this.#connect,
      recreate: nodes,
    });
    this.#session = undefined;
    this.#track(old.close(false));
    this.#openSession();
  }

  #track<T>(p: Promise<T>): Promise<T> {
    const t = p.finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
    return t;
  }

  // ---- provider side ----------------------------------------------------------------------

  /** Runs the reconciliation after each (re)connection: nodes back, removals done, re-reads. */
  #scheduleReconcile(): void {
    if (this.#reconciling) {
      this.#reconcileAgain = true;
      return;
    }
    this.#reconciling = this.#track(
      (async () => {
        do {
          this.#reconcileAgain = false;
          await this.#reconcileOnce();
        } while (this.#reconcileAgain && !this.#closing);
      })().finally(() => this.#reconciling = undefined),
    );
  }

  async #reconcileOnce(): Promise<void> {
    const s = this.#session;
    if (!s || s.state !== "connected" || this.#closing) return;
    await this.#removePending(s).catch((err) =>
      this.#log.warn("ZooKeeper: deferred deletions failed; retrying on reconnection", {
        error: err,
      })
    );
    for (const entry of [...this.#regs.values()]) {
      if (this.#closing || this.#regs.get(regKey(entry.reg)) !== entry) continue;
      const confirmed = entry.session;
      try {
        const created = await this.#ensureNodes(s, entry);
        if (created > 0 && confirmed !== undefined) {
          this.#log.warn("ZooKeeper: provider node(s) re-created", {
            service: entry.reg.service,
            endpoint: endpointKey(entry.reg),
            nodes: created,
            session: s.sessionIdHex,
            previousSession: confirmed,
          });
        }
        if (this.#regs.get(regKey(entry.reg)) !== entry) await this.#dropStale(entry);
      } catch (err) {
        if (this.#closing) return;
        const log = isTransient(err) ? this.#log.warn : this.#log.error;
        log.call(this.#log, "ZooKeeper: could not re-create provider node", {
          service: entry.reg.service,
          endpoint: endpointKey(entry.reg),
          error: err,
        });
      }
    }
    for (const c of [...this.#services.values(), ...this.#legacy.values()]) this.#schedule(c, 0);
  }

  /** The ephemeral nodes of an entry: [path, ours alone (false for shared legacy nodes)]. */
  #nodePaths(entry: Registration): Array<[string, boolean]> {
    const paths: Array<[string, boolean]> = [[providerPath(this.#root, entry.reg), true]];
    if (this.#legacyLayout) {
      const name = legacyServiceName(entry.reg.service);
      for (const m of entry.reg.methods) paths.push([legacyMethodPath(name, m), false]);
    }
    return paths;
  }

  /** Deletes the nodes of an entry that was unregistered while it was being (re-)created. */
  async #dropStale(entry: Registration): Promise<void> {
    const live = new Set<string>();
    for (const e of this.#regs.values()) for (const [p] of this.#nodePaths(e)) live.add(p);
    for (const [p, own] of this.#nodePaths(entry)) {
      if (!live.has(p)) this.#pendingRemovals.set(p, own);
    }
    const s = this.#session;
    if (s?.state === "connected") await this.#removePending(s).catch(() => {});
  }

  /** Makes the entry's nodes exist and belong to `s`; the number of nodes (re-)created. */
  async #ensureNodes(s: ZkSession, entry: Registration): Promise<number> {
    const acl = await (this.#acl ??= buildAcl(this.#aclOption, this.#auth));
    const { reg } = entry;
    await this.#mkdirs(s, providersPath(this.#root, reg.service), acl);
    let created =
      await this.#ensureEphemeral(s, providerPath(this.#root, reg), entry.data, acl, true) ? 1 : 0;
    if (this.#legacyLayout) {
      const name = legacyServiceName(reg.service);
      await this.#mkdirs(s, legacyServicePath(name), acl);
      const data = encodeLegacy(reg);
      for (const m of reg.methods) {
        if (await this.#ensureEphemeral(s, legacyMethodPath(name, m), data, acl, false)) created++;
      }
    }
    entry.session = s.sessionIdHex;
    return created;
  }

  /** Creates missing persistent nodes along `path` (empty data). */
  async #mkdirs(s: ZkSession, path: string, acl: ZkRawAcl[]): Promise<void> {
    if (await s.exists(path)) return;
    const parts = path.split("/").slice(1);
    for (let i = 1; i <= parts.length; i++) {
      const p = "/" + parts.slice(0, i).join("/");
      try {
        await s.create(p, emptyBuffer(), acl, zookeeper.CreateMode.PERSISTENT);
      } catch (err) {
        if (zkCode(err) !== ZkCode.NODE_EXISTS) throw err;
      }
    }
  }

  /**
   * Creates an ephemeral node owned by session `s`. A node already there that belongs to an
   * earlier session (ours, after expiry, or a previous process at the same address) is deleted
   * and re-created, so it does not vanish when that session ends (Dubbo issue #5125). A legacy
   * node held by another live provider (`exclusive` false) is left alone.
   *
   * @returns true when a node was created, false when `s` already owned it or another provider does.
   */
  async #ensureEphemeral(
    s: ZkSession,
    path: string,
    data: Buffer,
    acl: ZkRawAcl[],
    exclusive: boolean,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await s.create(path, data, acl, zookeeper.CreateMode.EPHEMERAL);
        return true;
      } catch (err) {
        if (zkCode(err) !== ZkCode.NODE_EXISTS) throw err;
      }
      let existing: { data: Buffer; stat: { ephemeralOwner: Buffer; version: number } };
      try {
        existing = await s.getData(path);
      } catch (err) {
        if (zkCode(err) === ZkCode.NO_NODE) continue;
        throw err;
      }
      const owner = sessionHex(existing.stat.ephemeralOwner);
      if (owner === s.sessionIdHex) {
        if (!existing.data.equals(data)) await s.setData(path, data, -1);
        return false;
      }
      if (!exclusive && !this.#pastSessions.has(owner) && !existing.data.equals(data)) {
        this.#log.warn(
          "ZooKeeper: legacy node held by another provider; taking over when it goes",
          {
            path,
            owner,
            data: existing.data.toString("latin1"),
          },
        );
        if (!(await s.exists(path, this.#reconcileWatcher))) continue;
        return false;
      }
      this.#log.warn("ZooKeeper: replacing a node left by an old session", {
        path,
        owner,
        session: s.sessionIdHex,
      });
      try {
        await s.remove(path, existing.stat.version);
      } catch (err) {
        const code = zkCode(err);
        if (code !== ZkCode.NO_NODE && code !== ZkCode.BAD_VERSION) throw err;
      }
    }
    throw new ZkError(ZkCode.NODE_EXISTS, "NODE_EXISTS", "create", path);
  }

  /** Deletes nodes of unregistered providers (legacy ones only when they are ours). */
  async #removePending(s: ZkSession): Promise<void> {
    const paths = [...this.#pendingRemovals];
    await Promise.all(paths.map(async ([path, own]) => {
      try {
        const { stat } = await s.getData(path);
        const owner = sessionHex(stat.ephemeralOwner);
        if (own || this.#pastSessions.has(owner)) {
          await s.remove(path, stat.version);
        }
      } catch (err) {
        const code = zkCode(err);
        if (code !== ZkCode.NO_NODE && code !== ZkCode.BAD_VERSION) throw err;
      }
      this.#pendingRemovals.delete(path);
    }));
  }

  // ---- caller side ----------------------------------------------------------------------

  #service(name: string): CachedService {
    let svc = this.#services.get(name);
    if (!svc) {
      const c: CachedService = {
        name,
        endpoints: [],
        loaded: false,
        listeners: new Set(),
        timer: undefined,
        inflight: undefined,
        dirty: false,
        watcher: () => this.#schedule(c),
      };
      this.#services.set(name, svc = c);
    }
    return svc;
  }

  /** Schedules a (debounced) re-read of a cached service or legacy node. */
  #schedule(c: CachedService | CachedLegacy, delay = this.#debounceMs): void {
    if (this.#closing || c.timer !== undefined) return;
    c.timer = setTimeout(() => {
      c.timer = undefined;
      const read = "listeners" in c ? this.#readService(c) : this.#readLegacy(c);
      this.#track(read.catch((err) =>
        this.#log[isTransient(err) ? "info" : "warn"](
          "ZooKeeper re-read failed; keeping the cached list",
          { path: "listeners" in c ? providersPath(this.#root, c.name) : c.path, error: err },
        )
      ));
    }, delay);
  }

  /** Reads a service's providers (one getChildren + getData each), coalescing concurrent reads. */
  #readService(svc: CachedService): Promise<void> {
    return coalesce(svc, async () => {
      const s = this.#connectedSession(providersPath(this.#root, svc.name));
      if (!s) return;
      const path = providersPath(this.#root, svc.name);
      let children: string[];
      try {
        children = await s.getChildren(path, svc.watcher);
      } catch (err) {
        if (zkCode(err) !== ZkCode.NO_NODE) throw err;
        // No providers node yet: watch for its creation.
        if (await s.exists(path, svc.watcher)) {
          svc.dirty = true;
          return;
        }
        children = [];
      }
      const found = await Promise.all(children.map(async (child) => {
        try {
          return decodeProvider(child, (await s.getData(`${path}/${child}`)).data);
        } catch (err) {
          if (zkCode(err) === ZkCode.NO_NODE) return undefined; // gone meanwhile; the watch fires
          throw err;
        }
      }));
      const list = sortEndpoints(found.filter((e): e is Endpoint => e !== undefined));
      if (list.length === 0 && svc.endpoints.length > 0 && !this.#healthy(s)) {
        this.#log.info(
          "ZooKeeper: empty provider list right after reconnection; keeping the cached one",
          {
            service: svc.name,
            cached: svc.endpoints.length,
          },
        );
        this.#schedule(svc, this.#emptyGraceMs - (Date.now() - this.#connectedAt));
        svc.loaded = true;
        return;
      }
      const changed = !sameEndpoints(svc.endpoints, list);
      svc.endpoints = list;
      svc.loaded = true;
      if (changed) {
        this.#log.debug("ZooKeeper: providers changed", { service: svc.name, count: list.length });
        for (const fn of [...svc.listeners]) {
          try {
            fn(list.map(copyEndpoint));
          } catch (err) {
            this.#log.error("registry watch callback threw", { service: svc.name, error: err });
          }
        }
      }
    });
  }

  #readLegacy(c: CachedLegacy): Promise<void> {
    return coalesce(c, async () => {
      const s = this.#connectedSession(c.path);
      if (!s) return;
      let endpoint: Endpoint | undefined;
      try {
        endpoint = decodeLegacy((await s.getData(c.path, c.watcher)).data);
      } catch (err) {
        if (zkCode(err) !== ZkCode.NO_NODE) throw err;
        if (await s.exists(c.path, c.watcher)) {
          c.dirty = true;
          return;
        }
      }
      if (!endpoint && c.endpoint && !this.#healthy(s)) {
        this.#schedule(c, this.#emptyGraceMs - (Date.now() - this.#connectedAt));
        c.loaded = true;
        return;
      }
      c.endpoint = endpoint;
      c.loaded = true;
    });
  }

  /** The connected session; undefined when closing; throws CONNECTION_LOSS when disconnected. */
  #connectedSession(path: string): ZkSession | undefined {
    if (this.#closing) return undefined;
    const s = this.#session;
    if (!s || s.state !== "connected") {
      throw new ZkError(ZkCode.CONNECTION_LOSS, "CONNECTION_LOSS", "read", path);
    }
    return s;
  }

  /** Connected, and long enough since (re)connection for providers to have re-registered. */
  #healthy(s: ZkSession): boolean {
    return s.state === "connected" && Date.now() - this.#connectedAt >= this.#emptyGraceMs;
  }
}

/** Runs `read` now, or, when a read is in flight, marks it dirty so it runs once more. */
function coalesce(
  c: { inflight: Promise<void> | undefined; dirty: boolean },
  read: () => Promise<void>,
): Promise<void> {
  if (c.inflight) {
    c.dirty = true;
    return c.inflight;
  }
  const run = (async () => {
    try {
      do {
        c.dirty = false;
        await read();
      } while (c.dirty);
    } finally {
      c.inflight = undefined;
    }
  })();
  c.inflight = run;
  return run;
}

function positive(name: string, value: number, zeroOk = false): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)
  ) {
    throw new RangeError(
      `ZooKeeperRegistry ${name} must be a ${
        zeroOk ? "non-negative" : "positive"
      } number of ms, got ${value}`,
    );
  }
  return value;
}

function checkRegistration(r: ServiceRegistration): ServiceRegistration {
  checkServiceName(r?.service);
  if (typeof r.host !== "string" || r.host === "" || r.host.includes("/")) {
    throw new TypeError(`Invalid provider host ${JSON.stringify(r.host)}`);
  }
  if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) {
    throw new TypeError(`Invalid provider port ${r.port}: expected 1..65535`);
  }
  if (
    !Array.isArray(r.methods) ||
    r.methods.some((m) => typeof m !== "string" || m === "" || m.includes("/"))
  ) {
    throw new TypeError(`Invalid methods ${JSON.stringify(r.methods)}: expected method names`);
  }
  if (r.weight !== undefined && !(typeof r.weight === "number" && r.weight >= 0)) {
    throw new TypeError(`Invalid weight ${r.weight}: expected a non-negative number`);
  }
  return {
    service: r.service,
    methods: [...r.methods],
    host: r.host,
    port: r.port,
    weight: r.weight ?? 1,
  };
}

function regKey(r: { service: string; host: string; port: number }): string {
  return `${r.service}|${endpointKey(r)}`;
}

function copyEndpoint(e: Endpoint): Endpoint {
  return e.methods ? { ...e, methods: [...e.methods] } : { ...e };
}

function emptyBuffer(): Buffer {
  return Buffer.alloc(0);
}

function toRpcError(err: unknown, what: string): RpcError {
  if (err instanceof RpcError) return err;
  const code = zkCode(err);
  if (code === ZkCode.NO_AUTH || code === ZkCode.INVALID_ACL || code === ZkCode.AUTH_FAILED) {
    return new RpcError(
      Code.PERMISSION_DENIED,
      `ZooKeeper denied ${what}: ${(err as Error).message} (check the registry's auth/acl)`,
      { cause: err },
    );
  }
  return new RpcError(
    Code.UNAVAILABLE,
    `ZooKeeper ${what} failed: ${(err as Error)?.message ?? err}`,
    {
      cause: err,
    },
  );
}
