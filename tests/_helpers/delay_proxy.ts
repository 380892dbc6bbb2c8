/**
 * A loopback TCP proxy that delays every chunk by a fixed time in each direction (a network with
 * latency), keeping half-closes; and a registry wrapper that sends a channel's connections
 * through such proxies, so in-process tests see frames cross on the wire as they do between
 * hosts.
 *
 * @module
 */
import type {
  Endpoint,
  Registry,
  RegistryWatch,
  ServiceRegistration,
} from "../../src/registry/registry.ts";
import { endpointKey } from "../../src/registry/registry.ts";
import { closeQuietly } from "./raw_tcp.ts";

/** A listening proxy to one target. */
export interface DelayProxy extends AsyncDisposable {
  readonly port: number;
  close(): Promise<void>;
}

/** Copies `from` to `to`, each chunk `delayMs` later, in order; half-closes `to` at EOF. */
async function pump(from: Deno.TcpConn, to: Deno.TcpConn, delayMs: number): Promise<void> {
  let chain = Promise.resolve();
  try {
    for (;;) {
      const buf = new Uint8Array(64 * 1024);
      const n = await from.read(buf);
      if (n === null) break;
      const chunk = buf.subarray(0, n);
      const due = Date.now() + delayMs;
      chain = chain.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        let off = 0;
        while (off < chunk.length) off += await to.write(chunk.subarray(off));
      });
    }
    await chain;
    await to.closeWrite();
  } catch {
    closeQuietly(from);
    closeQuietly(to);
    await chain.catch(() => {});
  }
}

/**
 * Listens on 127.0.0.1:0 and forwards each connection to `target` with `delayMs` of latency
 * each way.
 *
 * @example
 * ```ts ignore
 * await using proxy = startDelayProxy({ host: "127.0.0.1", port }, 5);
 * ```
 */
export function startDelayProxy(target: Endpoint, delayMs: number): DelayProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const inbound of listener) {
      conns.add(inbound);
      const task = (async () => {
        let outbound: Deno.TcpConn;
        try {
          outbound = await Deno.connect({ hostname: target.host, port: target.port });
        } catch {
          closeQuietly(inbound);
          return;
        }
        conns.add(outbound);
        await Promise.all([pump(inbound, outbound, delayMs), pump(outbound, inbound, delayMs)]);
        closeQuietly(inbound);
        closeQuietly(outbound);
        conns.delete(inbound);
        conns.delete(outbound);
      })();
      tasks.add(task);
      void task.finally(() => tasks.delete(task)); // tracked in `tasks`, awaited by close()
    }
  })().catch(() => {});
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      closeQuietly(listener);
      await loop;
      for (const c of conns) closeQuietly(c);
      await Promise.all([...tasks]);
    })();
  return { port: (listener.addr as Deno.NetAddr).port, close, [Symbol.asyncDispose]: close };
}

/**
 * A registry for a channel: resolves through `inner`, but hands out the address of a delaying
 * proxy (one per provider) instead of each provider's own.
 */
export class DelayedRegistry implements Registry, AsyncDisposable {
  #inner: Registry;
  #delayMs: number;
  #proxies = new Map<string, DelayProxy>();

  constructor(inner: Registry, delayMs: number) {
    this.#inner = inner;
    this.#delayMs = delayMs;
  }

  register(registration: ServiceRegistration): Promise<void> {
    return this.#inner.register(registration);
  }

  unregister(registration: ServiceRegistration): Promise<void> {
    return this.#inner.unregister(registration);
  }

  async resolve(service: string): Promise<Endpoint[]> {
    return this.#map(await this.#inner.resolve(service));
  }

  watch(service: string, onChange: (endpoints: Endpoint[]) => void): RegistryWatch {
    return this.#inner.watch(service, (eps) => onChange(this.#map(eps)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#proxies.values()].map((p) => p.close()));
    await this.#inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #map(endpoints: Endpoint[]): Endpoint[] {
    return endpoints.map((e) => {
      const key = endpointKey(e);
      let proxy = this.#proxies.get(key);
      if (proxy === undefined) this.#proxies.set(key, proxy = startDelayProxy(e, this.#delayMs));
      return { ...e, host: "127.0.0.1", port: proxy.port };
    });
  }
}
