/**
 * What a channel knows about providers: each service's endpoints (from a registry, kept current
 * by its watch, or one fixed address), and each endpoint's health (backoff after failures).
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
import type { Candidate } from "./balancer.ts";
import type { ClientConnection } from "./client_connection.ts";

/** Longest time a failing provider stays out of rotation before it is tried again. */
const MAX_BACKOFF_MS = 2_000;

/** One provider as the channel sees it; shared by every service it serves. */
export class EndpointState implements Candidate {
  /** `host:port`. */
  readonly key: string;
  /** Balancing weight (≥ 1). */
  weight: number;
  /** The connection to it, when one is open or opening. */
  conn: ClientConnection | undefined;
  /** Out of rotation until this `Date.now()` time (0: in rotation). */
  downUntil = 0;
  /** Consecutive failures (connects, handshakes, pings). */
  failures = 0;
  /** Services listing it. */
  users = 0;
  /** A background connection attempt is running. */
  warming = false;
  constructor(readonly host: string, readonly port: number, weight: number) {
    this.key = endpointKey({ host, port });
    this.weight = weight;
  }
  /** Calls in flight to it. */
  get inflight(): number {
    return this.conn?.inflight ?? 0;
  }
}

/** One service's providers. */
export class ServiceState {
  /** Every provider listed. */
  endpoints: EndpointState[] = [];
  /** Resolved at least once (endpoints are usable). */
  ready = false;
  resolving: Promise<void> | undefined;
  watch: RegistryWatch | undefined;
  healthy: EndpointState[] = [];
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
}

/** The services a channel has called, their providers, and the providers' health. */
export class ServiceDirectory {
  #o: ServiceDirectoryOptions;
  #services = new Map<string, ServiceState>();
  #endpoints = new Map<string, EndpointState>();
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
  healthy(svc: ServiceState): EndpointState[] {
    const now = Date.now();
    if (svc.healthyEpoch !== this.#epoch || now >= svc.healthyUntil) {
      let until = Infinity;
      svc.healthy = svc.endpoints.filter((e) => {
        if (e.downUntil > now) {
          until = Math.min(until, e.downUntil);
          return false;
        }
        return true;
      });
      svc.healthyUntil = until;
      svc.healthyEpoch = this.#epoch;
    }
    return svc.healthy;
  }

  /** Takes `ep` out of rotation with a backoff that doubles per failure (100 ms … 2 s). */
  markDown(ep: EndpointState, err: RpcError): void {
    ep.failures++;
    const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(ep.failures - 1, 10));
    ep.downUntil = Date.now() + backoff * (0.8 + Math.random() * 0.4);
    this.#epoch++;
    this.#o.logger.warn("provider unreachable, out of rotation", {
      provider: ep.key,
      backoffMs: Math.round(backoff),
      error: err.message,
    });
  }

  /** Puts `ep` back into rotation after a successful connection. */
  markUp(ep: EndpointState): void {
    if (ep.failures === 0) return;
    ep.failures = 0;
    ep.downUntil = 0;
    this.#epoch++;
    this.#o.logger.info("provider reachable again", { provider: ep.key });
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
    const next: EndpointState[] = [];
    const seen = new Set<string>();
    for (const e of list) {
      const key = endpointKey(e);
      if (seen.has(key)) continue;
      seen.add(key);
      let st = this.#endpoints.get(key);
      if (st === undefined) {
        st = new EndpointState(e.host, e.port, e.weight ?? 1);
        this.#endpoints.set(key, st);
      }
      st.weight = Math.max(1, Math.round(e.weight ?? 1));
      next.push(st);
    }
    for (const old of svc.endpoints) {
      if (!seen.has(old.key)) this.#release(old);
    }
    for (const st of next) if (!svc.endpoints.includes(st)) st.users++;
    if (svc.ready) {
      this.#o.logger.info("providers changed", {
        service: svc.name,
        providers: next.map((e) => e.key).join(",") || "(none)",
      });
    }
    svc.endpoints = next;
    this.#epoch++;
  }

  #release(ep: EndpointState): void {
    if (--ep.users > 0) return;
    this.#endpoints.delete(ep.key);
    // In-flight calls finish; no new calls go there; the connection closes when idle.
    ep.conn?.retire();
  }
}
