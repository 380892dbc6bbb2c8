/**
 * The provider side of {@linkcode ZooKeeperRegistry} (private): the registrations of this
 * process and the ephemeral nodes that stand for them, made to exist and to belong to the
 * current session after every (re)connection.
 *
 * @module
 */
import { Buffer } from "../../deps.ts";
import { zookeeper } from "./zk_client.ts";
import type { Logger } from "../../log/logger.ts";
import { endpointKey, type ServiceRegistration } from "../registry.ts";
import {
  checkServiceName,
  encodeLegacy,
  encodeProvider,
  legacyMethodPath,
  legacyServiceName,
  legacyServicePath,
  providerPath,
  providersPath,
} from "./zk_layout.ts";
import {
  isTransient,
  sessionHex,
  ZkCode,
  zkCode,
  ZkError,
  type ZkRawAcl,
  type ZkSession,
} from "./zk_session.ts";

/** One registration and its node data. */
export interface Registration {
  reg: ServiceRegistration;
  data: Buffer;
  /** The session in which its nodes were last confirmed. */
  session: string | undefined;
}

/** Options of {@linkcode ProviderNodes}. */
export interface ProviderNodesOptions {
  root: string;
  /** See `ZooKeeperRegistryOptions.legacyLayout`. */
  legacyLayout: boolean | undefined;
  /** ACL of created nodes. */
  acl: () => Promise<ZkRawAcl[]>;
  log: Logger;
  /** Called when a legacy node held by another provider goes (to take it over). */
  onForeignNodeGone: () => void;
  /** ISO time written into provider nodes. */
  startTime: string;
}

/**
 * The registrations of this process and their nodes.
 *
 * @example
 * ```ts ignore
 * const nodes = new ProviderNodes({ root: "/mprpc", legacyLayout: false, acl, log, ... });
 * const { entry } = nodes.add(registration);
 * await nodes.ensure(session, entry);
 * ```
 */
export class ProviderNodes {
  /** Ids (`0x...`) of every session this registry has had: their nodes are ours. */
  readonly pastSessions: Set<string> = new Set();
  #opts: ProviderNodesOptions;
  #regs = new Map<string, Registration>();
  /** Node paths to delete → whether the path is ours alone (false: legacy, check the owner). */
  #pending = new Map<string, boolean>();
  /** Registrations already told that `legacyLayout: true` writes nothing for them. */
  #toldNoLegacy = new Set<string>();
  /** The `ensure` running per registration, and in which session. */
  #ensuring = new Map<Registration, { session: ZkSession; done: Promise<number> }>();

  /** Creates an empty set of registrations. */
  constructor(opts: ProviderNodesOptions) {
    this.#opts = opts;
  }

  /** Number of ephemeral nodes the registrations stand for. */
  get nodeCount(): number {
    let n = 0;
    for (const e of this.#regs.values()) n += this.#paths(e).length;
    return n;
  }

  /** Records a registration (replacing one at the same address); returns it and the old one. */
  add(reg: ServiceRegistration): { entry: Registration; previous: Registration | undefined } {
    const key = regKey(reg);
    const entry: Registration = {
      reg,
      data: encodeProvider(reg, this.#opts.startTime),
      session: undefined,
    };
    const previous = this.#regs.get(key);
    this.#regs.set(key, entry);
    if (this.#opts.legacyLayout === true && reg.legacy === false && !this.#toldNoLegacy.has(key)) {
      this.#toldNoLegacy.add(key);
      this.#opts.log.warn(
        "ZooKeeper: legacyLayout is true, but no C++ layout node is written for this provider: " +
          "it does not speak the C++ protocol (legacy: false), so C++ callers would be refused; " +
          "start the provider with legacy: true to serve them",
        { service: reg.service, endpoint: endpointKey(reg) },
      );
    }
    for (const [p] of this.#paths(entry)) this.#pending.delete(p);
    if (previous) {
      // Legacy method nodes the new registration no longer has.
      const keep = new Set(this.#paths(entry).map(([p]) => p));
      for (const [p, own] of this.#paths(previous)) if (!keep.has(p)) this.#pending.set(p, own);
    }
    return { entry, previous };
  }

  /**
   * Undoes {@linkcode ProviderNodes.add} after a failed registration (a node it may still have
   * created is queued for deletion).
   */
  restore(entry: Registration, previous: Registration | undefined): void {
    const key = regKey(entry.reg);
    if (this.#regs.get(key) !== entry) return;
    if (previous) {
      this.#regs.set(key, previous);
    } else {
      this.#regs.delete(key);
      this.#queueStale(entry);
    }
  }

  /** Whether `entry` is still the registration for its address. */
  isCurrent(entry: Registration): boolean {
    return this.#regs.get(regKey(entry.reg)) === entry;
  }

  /** Forgets a registration; its nodes are queued for deletion. False when unknown. */
  remove(reg: ServiceRegistration): boolean {
    const entry = this.#regs.get(regKey(reg));
    if (!entry) return false;
    this.#regs.delete(regKey(reg));
    this.#queueStale(entry);
    return true;
  }

  /** Forgets every registration, queueing all their nodes for deletion. */
  removeAll(): void {
    for (const entry of this.#regs.values()) {
      for (const [p, own] of this.#paths(entry)) this.#pending.set(p, own);
    }
    this.#regs.clear();
  }

  /** Queues the nodes of an entry that is no longer registered (unless another entry has them). */
  #queueStale(entry: Registration): void {
    const live = new Set<string>();
    for (const e of this.#regs.values()) for (const [p] of this.#paths(e)) live.add(p);
    for (const [p, own] of this.#paths(entry)) if (!live.has(p)) this.#pending.set(p, own);
  }

  /**
   * After a (re)connection: deletes what is queued, then makes every registration's nodes exist
   * in session `s`, logging nodes that had to be re-created.
   */
  /** Registrations whose nodes had to be re-created after a reconnection (metrics). */
  reregistrations = 0;

  async reconcile(s: ZkSession, closing: () => boolean): Promise<void> {
    const log = this.#opts.log;
    await this.removePending(s).catch((err) =>
      log.warn("ZooKeeper: deferred deletions failed; retrying on reconnection", { error: err })
    );
    for (const entry of [...this.#regs.values()]) {
      if (closing() || !this.isCurrent(entry)) continue;
      const confirmed = entry.session;
      try {
        const created = await this.ensure(s, entry);
        if (created > 0 && confirmed !== undefined) {
          this.reregistrations++;
          log.warn("ZooKeeper: provider node(s) re-created", {
            service: entry.reg.service,
            endpoint: endpointKey(entry.reg),
            nodes: created,
            session: s.sessionIdHex,
            previousSession: confirmed,
          });
        }
      } catch (err) {
        if (closing()) return;
        (isTransient(err) ? log.warn : log.error).call(
          log,
          "ZooKeeper: could not re-create provider node",
          { service: entry.reg.service, endpoint: endpointKey(entry.reg), error: err },
        );
      }
    }
  }

  /**
   * Makes the entry's nodes exist and belong to `s` (deleting them again if the entry was
   * unregistered meanwhile); returns how many nodes were (re-)created. A call while one for the
   * same entry and session runs joins it: a first `register` and the reconciliation that the
   * new connection starts would otherwise write the same nodes twice, racing.
   */
  ensure(s: ZkSession, entry: Registration): Promise<number> {
    const running = this.#ensuring.get(entry);
    if (running?.session === s) return running.done;
    const done = this.#ensure(s, entry).finally(() => {
      if (this.#ensuring.get(entry)?.done === done) this.#ensuring.delete(entry);
    });
    this.#ensuring.set(entry, { session: s, done });
    return done;
  }

  async #ensure(s: ZkSession, entry: Registration): Promise<number> {
    const acl = await this.#opts.acl();
    const { reg } = entry;
    const { root } = this.#opts;
    await mkdirs(s, providersPath(root, reg.service), acl);
    let created = await this.#ensureEphemeral(s, providerPath(root, reg), entry.data, acl, true)
      ? 1
      : 0;
    if (this.#writesLegacy(reg)) {
      const name = legacyServiceName(reg.service);
      await mkdirs(s, legacyServicePath(name), acl);
      const data = encodeLegacy(reg);
      for (const m of reg.methods) {
        if (await this.#ensureEphemeral(s, legacyMethodPath(name, m), data, acl, false)) created++;
      }
    }
    entry.session = s.sessionIdHex;
    if (!this.isCurrent(entry)) {
      this.#queueStale(entry);
      await this.removePending(s);
    }
    return created;
  }

  /**
   * Creates an ephemeral node owned by session `s`. A node already there that belongs to an
   * earlier session (ours, after expiry, or a previous process at the same address) is deleted
   * and re-created, so it does not vanish when that session ends (Dubbo issue #5125). A legacy
   * node held by another live provider (`exclusive` false) is left alone and watched.
   *
   * @returns true when a node was created.
   */
  async #ensureEphemeral(
    s: ZkSession,
    path: string,
    data: Buffer,
    acl: ZkRawAcl[],
    exclusive: boolean,
  ): Promise<boolean> {
    const log = this.#opts.log;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await s.create(path, data, acl, zookeeper.CreateMode.EPHEMERAL);
        return true;
      } catch (err) {
        if (zkCode(err) !== ZkCode.NODE_EXISTS) throw err;
      }
      let existing: Awaited<ReturnType<ZkSession["getData"]>>;
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
      if (!exclusive && !this.pastSessions.has(owner) && !existing.data.equals(data)) {
        log.warn("ZooKeeper: legacy node held by another provider; taking over when it goes", {
          path,
          owner,
          data: existing.data.toString("latin1"),
        });
        if (!(await s.exists(path, this.#opts.onForeignNodeGone))) continue;
        return false;
      }
      log.warn("ZooKeeper: replacing a node left by an old session", {
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

  /**
   * Deletes queued nodes (shared legacy ones only when one of our sessions owns them). Nodes the
   * ACL does not let us delete are given up.
   */
  async removePending(s: ZkSession): Promise<void> {
    await Promise.all([...this.#pending].map(async ([path, own]) => {
      try {
        const { stat } = await s.getData(path);
        if (own || this.pastSessions.has(sessionHex(stat.ephemeralOwner))) {
          await s.remove(path, stat.version);
        }
      } catch (err) {
        const code = zkCode(err);
        if (code === ZkCode.NO_AUTH) {
          this.#opts.log.warn("ZooKeeper: not allowed to delete a node", { path, error: err });
        } else if (code !== ZkCode.NO_NODE && code !== ZkCode.BAD_VERSION) {
          throw err;
        }
      }
      if (this.#pending.get(path) === own) this.#pending.delete(path);
    }));
  }

  /**
   * Whether the C++ layout is written for `reg`: never with `legacyLayout: false`; else as the
   * registration says (`RpcProvider` says `legacy: true` exactly when it speaks the C++
   * protocol); a registration that does not say follows `legacyLayout: true`.
   */
  #writesLegacy(reg: ServiceRegistration): boolean {
    const layout = this.#opts.legacyLayout;
    if (layout === false) return false;
    return reg.legacy ?? layout === true;
  }

  /** The ephemeral nodes of an entry: [path, ours alone (false for shared legacy nodes)]. */
  #paths(entry: Registration): Array<[string, boolean]> {
    const paths: Array<[string, boolean]> = [[providerPath(this.#opts.root, entry.reg), true]];
    if (this.#writesLegacy(entry.reg)) {
      const name = legacyServiceName(entry.reg.service);
      for (const m of entry.reg.methods) paths.push([legacyMethodPath(name, m), false]);
    }
    return paths;
  }
}

/**
 * Creates the missing persistent nodes along `path` (empty data). The deepest existing ancestor
 * is found with reads (`exists`, answered by the member the session is connected to), so only
 * missing nodes are created: a create that fails (NODE_EXISTS) still costs ZooKeeper a
 * transaction through the leader, and a thousand providers re-registering at once would send a
 * thousand of them per existing level.
 */
async function mkdirs(s: ZkSession, path: string, acl: ZkRawAcl[]): Promise<void> {
  const missing: string[] = [];
  for (let p = path; p !== "" && !(await s.exists(p)); p = p.slice(0, p.lastIndexOf("/"))) {
    missing.push(p);
  }
  for (const p of missing.reverse()) {
    try {
      await s.create(p, Buffer.alloc(0), acl, zookeeper.CreateMode.PERSISTENT);
    } catch (err) {
      if (zkCode(err) !== ZkCode.NODE_EXISTS) throw err; // created meanwhile by another provider
    }
  }
}

/**
 * Checks a registration and returns a normalized copy (weight defaults to 1).
 *
 * @throws {TypeError} naming the bad field and value.
 */
export function checkRegistration(r: ServiceRegistration): ServiceRegistration {
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
    ...(r.legacy === undefined ? {} : { legacy: r.legacy }),
  };
}

function regKey(r: { service: string; host: string; port: number }): string {
  return `${r.service}|${endpointKey(r)}`;
}
