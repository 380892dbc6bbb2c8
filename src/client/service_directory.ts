/**
 * What a channel knows about services: each service's providers (from a registry, kept current
 * by its watch, or one fixed address), as {@linkcode Subchannel}s, which own their health.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import {
  type Endpoint,
  endpointKey,
  type Registry,
  type RegistryWatch,
} from "../registry/registry.ts";
import type { Subchannel } from "./subchannel.ts";
import type { SubchannelPool } from "./subchannel_pool.ts";

/** One service's providers. */
export class ServiceState {
  /** Every provider listed. */
  endpoints: Subchannel[] = [];
  /** Resolved at least once (endpoints are usable). */
  ready = false;
  resolving: Promise<void> | undefined;
  watch: RegistryWatch | undefined;
  healthy: Subchannel[] = [];
  healthyUntil = 0;
  healthyEpoch = -1;
  constructor(readonly name: string) {}
}

/** Options of {@linkcode ServiceDirectory}. */
export interface ServiceDirectoryOptions {
  registry?: Registry | undefined;
  /** One provider for every service, instead of a registry. */
  fixed?: Endpoint | undefined;
  logger: Logger;
  /** Makes the subchannels (and tells when their health changed). */
  subchannels: SubchannelPool;
}

/** The services a channel has called and their providers. */
export class ServiceDirectory {
  #o: ServiceDirectoryOptions;
  #services = new Map<string, ServiceState>();
  #endpoints = new Map<string, Subchannel>();
  /** How many services list each provider. */
  #users = new Map<Subchannel, number>();
  #epoch = 0;
  #closed = false;
  /** Aborted by `close()`: abandons registry lookups still waiting (e.g. for ZooKeeper). */
  #closer = new AbortController();

  constructor(options: ServiceDirectoryOptions) {
    this.#o = options;
  }

  /** The service's state when it has been resolved, else undefined (no I/O). */
  ready(service: string): ServiceState | undefined {
    const svc = this.#services.get(service);
    return svc !== undefined && svc.ready ? svc : undefined;
  }

  /**
   * Resolves `service` once (then follows the registry's watch); rejects `UNAVAILABLE`. The
   * lookup is shared by every caller of the service, so it is bounded by the registry's own
   * timeout and the directory's `close()`, not by one call: each caller bounds its own wait.
   */
  resolve(service: string): Promise<ServiceState> | ServiceState {
    let svc = this.#services.get(service);
    if (svc === undefined) {
      svc = new ServiceState(service);
      this.#services.set(service, svc);
      const s = svc;
      s.resolving = this.#startResolve(s).catch((e) => {
        this.#services.delete(service);
        throw e;
      });
    }
    if (svc.ready) return svc;
    const s = svc;
    return svc.resolving!.then(() => s);
  }

  /** The endpoints of `svc` in rotation now (cached until something changes). */
  healthy(svc: ServiceState): Subchannel[] {
    // Both only grow, so their sum changes whenever either does.
    const epoch = this.#epoch + this.#o.subchannels.epoch;
    // (No clock read while no provider is backing off: `healthyUntil` is then Infinity.)
    if (
      svc.healthyEpoch !== epoch ||
      (svc.healthyUntil !== Infinity && Date.now() >= svc.healthyUntil)
    ) {
      const now = Date.now();
      let until = Infinity;
      svc.healthy = svc.endpoints.filter((e) => {
        if (e.downUntil > now) {
          until = Math.min(until, e.downUntil);
          return false;
        }
        return true;
      });
      svc.healthyUntil = until;
      svc.healthyEpoch = epoch;
    }
    return svc.healthy;
  }

  /** Stops following the registry. */
  close(): void {
    this.#closed = true;
    this.#closer.abort(new RpcError(Code.CANCELLED, "channel closed"));
    for (const svc of this.#services.values()) svc.watch?.close();
  }

  async #startResolve(svc: ServiceState): Promise<void> {
    const { fixed, registry } = this.#o;
    if (fixed) {
      this.#setEndpoints(svc, [fixed]);
      svc.ready = true;
      return;
    }
    let list: Endpoint[];
    try {
      list = await registry!.resolve(svc.name, { signal: this.#closer.signal });
    } catch (e) {
      throw RpcError.from(e, Code.UNAVAILABLE);
    }
    if (this.#closed) throw new RpcError(Code.CANCELLED, "channel closed");
    this.#setEndpoints(svc, list);
    svc.watch = registry!.watch(svc.name, (eps) => this.#setEndpoints(svc, eps));
    svc.ready = true;
  }

  #setEndpoints(svc: ServiceState, list: Endpoint[]): void {
    const next: Subchannel[] = [];
    const seen = new Set<string>();
    for (const e of list) {
      const key = endpointKey(e);
      if (seen.has(key)) continue;
      seen.add(key);
      let st = this.#endpoints.get(key);
      if (st === undefined) {
        st = this.#o.subchannels.subchannel({ host: e.host, port: e.port }, e.weight ?? 1);
        this.#endpoints.set(key, st);
      }
      st.weight = Math.max(1, Math.round(e.weight ?? 1));
      next.push(st);
    }
    for (const old of svc.endpoints) {
      if (!seen.has(old.key)) this.#release(old);
    }
    for (const st of next) {
      if (!svc.endpoints.includes(st)) this.#users.set(st, (this.#users.get(st) ?? 0) + 1);
    }
    if (svc.ready) {
      this.#o.logger.info("providers changed", {
        service: svc.name,
        providers: next.map((e) => e.key).join(",") || "(none)",
      });
    }
    svc.endpoints = next;
    this.#epoch++;
  }

  #release(ep: Subchannel): void {
    const users = (this.#users.get(ep) ?? 1) - 1;
    if (users > 0) {
      this.#users.set(ep, users);
      return;
    }
    this.#users.delete(ep);
    this.#endpoints.delete(ep.key);
    // In-flight calls finish; no new calls go there; the connection closes when idle.
    ep.retire();
  }
}
