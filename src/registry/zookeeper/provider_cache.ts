/**
 * The caller side of {@linkcode ZooKeeperRegistry} (private): per-service provider lists (and
 * C++ layout method nodes) cached in memory and kept current by one-shot watches, re-armed on
 * every read. A change costs one getChildren plus one getData per provider, debounced.
 *
 * @module
 */
import type { Logger } from "../../log/logger.ts";
import type { Endpoint } from "../registry.ts";
import {
  decodeLegacy,
  decodeProvider,
  providersPath,
  sameEndpoints,
  sortEndpoints,
} from "./zk_layout.ts";
import { isTransient, ZkCode, zkCode, ZkError, type ZkSession, type ZkStat } from "./zk_session.ts";

interface Cached {
  loaded: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  inflight: Promise<void> | undefined;
  dirty: boolean;
  /** The watcher passed to ZooKeeper (one function per entry: the client dedupes by identity). */
  watcher: () => void;
}

/** A cached service's providers. */
export interface CachedService extends Cached {
  kind: "service";
  name: string;
  endpoints: Endpoint[];
  listeners: Set<(endpoints: Endpoint[]) => void>;
  /** Unusable provider nodes already logged: child name → owner/version when logged. */
  unusable: Map<string, string>;
}

/** A cached C++ layout method node. */
export interface CachedLegacy extends Cached {
  kind: "legacy";
  path: string;
  endpoint: Endpoint | undefined;
  /** Owner/version of the node when it was last logged as unusable. */
  unusable: string | undefined;
}

/** Options of {@linkcode ProviderCache}. */
export interface ProviderCacheOptions {
  root: string;
  debounceMs: number;
  emptyGraceMs: number;
  log: Logger;
  /** The current session when connected; undefined when the registry closes. */
  session: () => ZkSession | undefined;
  /** When the current connection came back after an outage (0: the first connection). */
  connectedAt: () => number;
  /** Keeps a background promise until the registry closes. */
  track: (p: Promise<unknown>) => void;
}

/**
 * Cached, watched provider lists.
 *
 * @example
 * ```ts ignore
 * const cache = new ProviderCache({ root: "/mprpc", debounceMs: 50, ... });
 * const svc = cache.service("fixbug.UserServiceRpc");
 * await cache.read(svc);
 * console.log(svc.endpoints);
 * ```
 */
export class ProviderCache {
  #opts: ProviderCacheOptions;
  #services = new Map<string, CachedService>();
  #legacy = new Map<string, CachedLegacy>();
  #closed = false;

  /** Creates an empty cache. */
  constructor(opts: ProviderCacheOptions) {
    this.#opts = opts;
  }

  /** The entry of a service (created, not yet loaded, on first use). */
  service(name: string): CachedService {
    let svc = this.#services.get(name);
    if (!svc) {
      const c: CachedService = {
        kind: "service",
        name,
        endpoints: [],
        listeners: new Set(),
        unusable: new Map(),
        ...fresh(() => this.schedule(c)),
      };
      this.#services.set(name, svc = c);
    }
    return svc;
  }

  /** The entry of a C++ layout method node path. */
  legacy(path: string): CachedLegacy {
    let entry = this.#legacy.get(path);
    if (!entry) {
      const c: CachedLegacy = {
        kind: "legacy",
        path,
        endpoint: undefined,
        unusable: undefined,
        ...fresh(() => this.schedule(c)),
      };
      this.#legacy.set(path, entry = c);
    }
    return entry;
  }

  /** Re-reads every entry now (after a (re)connection: re-arms the watches). */
  refreshAll(): void {
    for (const c of [...this.#services.values(), ...this.#legacy.values()]) this.schedule(c, 0);
  }

  /** Schedules a debounced re-read; failures keep the cached value and are logged. */
  schedule(c: CachedService | CachedLegacy, delay: number = this.#opts.debounceMs): void {
    if (this.#closed || c.timer !== undefined) return;
    c.timer = setTimeout(() => {
      c.timer = undefined;
      this.#opts.track(
        this.read(c).catch((err) =>
          this.#opts.log[isTransient(err) ? "info" : "warn"](
            "ZooKeeper re-read failed; keeping the cached list",
            {
              path: c.kind === "service" ? providersPath(this.#opts.root, c.name) : c.path,
              error: err,
            },
          )
        ),
      );
    }, Math.max(0, delay));
  }

  /**
   * Reads an entry (coalescing with a read in flight), leaving a watch.
   *
   * @throws {ZkError} CONNECTION_LOSS when not connected, or what ZooKeeper answered.
   */
  read(c: CachedService | CachedLegacy): Promise<void> {
    if (c.inflight) {
      c.dirty = true;
      return c.inflight;
    }
    const run = (async () => {
      try {
        do {
          c.dirty = false;
          await (c.kind === "service" ? this.#readService(c) : this.#readLegacy(c));
        } while (c.dirty && !this.#closed);
      } finally {
        c.inflight = undefined;
      }
    })();
    c.inflight = run;
    return run;
  }

  /** Stops every timer; later reads and schedules do nothing. */
  close(): void {
    this.#closed = true;
    for (const c of [...this.#services.values(), ...this.#legacy.values()]) {
      clearTimeout(c.timer);
      c.timer = undefined;
    }
    this.#services.clear();
    this.#legacy.clear();
  }

  async #readService(svc: CachedService): Promise<void> {
    const path = providersPath(this.#opts.root, svc.name);
    const s = this.#session(path);
    if (!s) return;
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
    const unusable = new Map<string, string>();
    const found = await Promise.all(children.map(async (child) => {
      const node = `${path}/${child}`;
      try {
        const { data, stat } = await s.getData(node);
        const read = decodeProvider(child, data);
        if (read.problem === undefined) return read.endpoint;
        const seen = nodeVersion(stat);
        unusable.set(child, seen);
        if (svc.unusable.get(child) !== seen) this.#skip(node, read.problem);
        return undefined;
      } catch (err) {
        if (zkCode(err) === ZkCode.NO_NODE) return undefined; // gone meanwhile; the watch fires
        throw err;
      }
    }));
    svc.unusable = unusable;
    const list = sortEndpoints(found.filter((e): e is Endpoint => e !== undefined));
    if (list.length === 0 && svc.endpoints.length > 0 && this.#inGrace(svc)) {
      this.#opts.log.info("ZooKeeper: no providers right after reconnection; keeping the cache", {
        service: svc.name,
        cached: svc.endpoints.length,
      });
      svc.loaded = true;
      return;
    }
    const changed = !sameEndpoints(svc.endpoints, list);
    svc.endpoints = list;
    svc.loaded = true;
    if (!changed) return;
    this.#opts.log.debug("ZooKeeper: providers changed", {
      service: svc.name,
      count: list.length,
    });
    for (const fn of [...svc.listeners]) {
      try {
        fn(list.map(copyEndpoint));
      } catch (err) {
        this.#opts.log.error("registry watch callback threw", { service: svc.name, error: err });
      }
    }
  }

  async #readLegacy(c: CachedLegacy): Promise<void> {
    const s = this.#session(c.path);
    if (!s) return;
    let endpoint: Endpoint | undefined;
    try {
      const { data, stat } = await s.getData(c.path, c.watcher);
      const read = decodeLegacy(data);
      endpoint = read?.endpoint;
      if (read?.problem === undefined) {
        c.unusable = undefined;
      } else if (c.unusable !== nodeVersion(stat)) {
        c.unusable = nodeVersion(stat);
        this.#skip(c.path, read.problem);
      }
    } catch (err) {
      if (zkCode(err) !== ZkCode.NO_NODE) throw err;
      if (await s.exists(c.path, c.watcher)) {
        c.dirty = true;
        return;
      }
    }
    if (!endpoint && c.endpoint && this.#inGrace(c)) {
      c.loaded = true;
      return;
    }
    c.endpoint = endpoint;
    c.loaded = true;
  }

  /**
   * Right after a re-connection providers may still be re-registering: an empty answer then
   * does not replace a non-empty cache; a re-read is scheduled for the end of the grace.
   */
  #inGrace(c: CachedService | CachedLegacy): boolean {
    const since = this.#opts.connectedAt();
    if (since === 0) return false;
    const left = this.#opts.emptyGraceMs - (Date.now() - since);
    if (left <= 0) return false;
    this.schedule(c, left);
    return true;
  }

  /** One WARN per unusable node (version): a watch storm re-reading it does not repeat it. */
  #skip(path: string, reason: string): void {
    this.#opts.log.warn("ZooKeeper: skipping a provider node that cannot be used", {
      path,
      reason,
    });
  }

  #session(path: string): ZkSession | undefined {
    if (this.#closed) return undefined;
    const s = this.#opts.session();
    if (!s || s.state !== "connected") {
      throw new ZkError(ZkCode.CONNECTION_LOSS, "CONNECTION_LOSS", "read", path);
    }
    return s;
  }
}

/** Identifies one content of a node: its owner session and data version. */
function nodeVersion(stat: ZkStat): string {
  return `${stat.ephemeralOwner.toString("hex")}/${stat.version}`;
}

function fresh(watcher: () => void): Cached {
  return { loaded: false, timer: undefined, inflight: undefined, dirty: false, watcher };
}

/** A deep enough copy of an endpoint for handing out. */
export function copyEndpoint(e: Endpoint): Endpoint {
  return e.methods ? { ...e, methods: [...e.methods] } : { ...e };
}
