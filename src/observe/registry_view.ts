/**
 * The registry's view of every provider of every service, as the console page shows it: with
 * a registry that can list its services (ZooKeeper), all of them; otherwise the services the
 * provider itself serves.
 *
 * @module
 */
import type { Endpoint, Registry } from "../registry/registry.ts";
import { errorMessage } from "../util/error_message.ts";

/** One service and the providers the registry lists for it. */
export interface RegistryService {
  /** Package-qualified service name. */
  service: string;
  /** Its providers, sorted by `host:port`. */
  providers: Endpoint[];
  /** Why the providers could not be read, if they could not. */
  error?: string | undefined;
}

/** What the registry says, read at `at` (`Date.now()`). */
export interface RegistryView {
  /** When it was read. */
  at: number;
  /** Every service, sorted by name. */
  services: RegistryService[];
  /** Why the list of services could not be read, if it could not. */
  error?: string | undefined;
}

/** How long one look at the registry may take, ms. */
const VIEW_TIMEOUT_MS = 3000;

/**
 * Reads the providers of every service `registry` knows (its `listServices()` when it has one,
 * else `ownServices`), each bounded in time; failures are reported in the view, never thrown.
 *
 * @example
 * ```ts
 * import { StaticRegistry } from "../registry/static_registry.ts";
 * import { registryView } from "./registry_view.ts";
 * const registry = new StaticRegistry({ "demo.Echo": ["127.0.0.1:9000"] });
 * const view = await registryView(registry, ["demo.Echo"]);
 * if (view.services[0]?.providers[0]?.port !== 9000) throw new Error();
 * await registry.close();
 * ```
 */
export async function registryView(
  registry: Registry,
  ownServices: readonly string[],
): Promise<RegistryView> {
  const giveUp = new AbortController();
  const timer = setTimeout(() => giveUp.abort(), VIEW_TIMEOUT_MS);
  try {
    return await readView(registry, ownServices, giveUp.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function readView(
  registry: Registry,
  ownServices: readonly string[],
  signal: AbortSignal,
): Promise<RegistryView> {
  const lister = (registry as { listServices?: unknown }).listServices;
  let names = [...ownServices];
  let error: string | undefined;
  if (typeof lister === "function") {
    try {
      names = await (lister.call(registry, { signal }) as Promise<string[]>);
    } catch (e) {
      error = errorMessage(e);
    }
  }
  const services = await Promise.all(
    [...new Set(names)].sort().map(async (service) => {
      try {
        const providers = await registry.resolve(service, { signal });
        providers.sort((a, b) => `${a.host}:${a.port}`.localeCompare(`${b.host}:${b.port}`));
        return { service, providers };
      } catch (e) {
        return { service, providers: [], error: errorMessage(e) };
      }
    }),
  );
  return { at: Date.now(), services, error };
}
