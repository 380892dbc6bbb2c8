/**
 * A registry held in memory: the embedded default that needs no ZooKeeper.
 *
 * @module
 */
import {
  type Endpoint,
  endpointKey,
  parseEndpoint,
  type Registry,
  type RegistryWatch,
  type ResolveOptions,
  type ServiceRegistration,
  type WatchOptions,
} from "./registry.ts";
import { abortReason } from "../util/signals.ts";

/**
 * A fixed map of service → endpoints, which providers that share the instance can also add
 * themselves to (handy for in-process tests and the demo).
 *
 * @example Pointing a channel at a known provider
 * ```ts
 * import { StaticRegistry } from "./static_registry.ts";
 * const registry = new StaticRegistry({ "fixbug.UserServiceRpc": ["127.0.0.1:8000"] });
 * const endpoints = await registry.resolve("fixbug.UserServiceRpc");
 * if (endpoints[0]?.port !== 8000) throw new Error();
 * await registry.close();
 * ```
 */
export class StaticRegistry implements Registry {
  #services = new Map<string, Endpoint[]>();
  #watchers = new Map<string, Set<(endpoints: Endpoint[]) => void>>();

  /** Creates a registry from `service → ["host:port", ...]` (or endpoint objects). */
  constructor(services: Record<string, Array<string | Endpoint>> = {}) {
    for (const [service, list] of Object.entries(services)) {
      this.#services.set(
        service,
        list.map((e) => typeof e === "string" ? parseEndpoint(e) : { ...e }),
      );
    }
  }

  /** Adds the provider to the service's list and notifies watchers. */
  register(reg: ServiceRegistration): Promise<void> {
    const list = (this.#services.get(reg.service) ?? []).filter((e) =>
      endpointKey(e) !== endpointKey(reg)
    );
    list.push({ host: reg.host, port: reg.port, weight: reg.weight ?? 1, methods: reg.methods });
    this.#services.set(reg.service, list);
    this.#notify(reg.service);
    return Promise.resolve();
  }

  /** Removes the provider from the service's list and notifies watchers. */
  unregister(reg: ServiceRegistration): Promise<void> {
    const list = this.#services.get(reg.service);
    if (list) {
      this.#services.set(reg.service, list.filter((e) => endpointKey(e) !== endpointKey(reg)));
      this.#notify(reg.service);
    }
    return Promise.resolve();
  }

  /** The endpoints of a service (a copy); rejects when `options.signal` is already aborted. */
  resolve(service: string, options?: ResolveOptions): Promise<Endpoint[]> {
    const signal = options?.signal;
    if (signal?.aborted) {
      return Promise.reject(abortReason(signal.reason, `resolve ${service} cancelled`));
    }
    return Promise.resolve([...(this.#services.get(service) ?? [])]);
  }

  /** Calls `onChange` whenever the service's list changes, until closed or `options.signal` aborts. */
  watch(
    service: string,
    onChange: (endpoints: Endpoint[]) => void,
    options?: WatchOptions,
  ): RegistryWatch {
    const signal = options?.signal;
    if (signal?.aborted) return { close() {} };
    let set = this.#watchers.get(service);
    if (!set) this.#watchers.set(service, set = new Set());
    set.add(onChange);
    const close = () => {
      set.delete(onChange);
      signal?.removeEventListener("abort", close);
    };
    signal?.addEventListener("abort", close, { once: true });
    return { close };
  }

  /** Drops all watchers. */
  close(): Promise<void> {
    this.#watchers.clear();
    return Promise.resolve();
  }

  #notify(service: string): void {
    const list = [...(this.#services.get(service) ?? [])];
    for (const fn of this.#watchers.get(service) ?? []) fn(list);
  }
}
