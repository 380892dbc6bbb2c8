/**
 * What a ZooKeeper holds about mprpc providers, read directly (no registry instance, no
 * registration): every service of the native layout under a root, and every service of the C++
 * mprpc layout at the top level (docs/zookeeper.md). `mprpc ls --zk` prints it.
 *
 * @module
 */
import { Buffer } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { errorMessage } from "../util/error_message.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import { loadZooKeeperClient, zookeeper } from "../registry/zookeeper/zk_client.ts";
import { closeRawClient, guardReconnects } from "../registry/zookeeper/zk_client_patches.ts";
import {
  decodeLegacy,
  decodeProvider,
  normalizeRoot,
  providersPath,
} from "../registry/zookeeper/zk_layout.ts";
import { DEFAULT_ZOOKEEPER_ROOT } from "../registry/zookeeper/zookeeper_registry_options.ts";

/** One provider of one service, as ZooKeeper lists it. */
export interface ListedProvider {
  /** Package-qualified name (native layout) or the C++ layout's bare service name. */
  service: string;
  /** `host:port`. */
  address: string;
  /** `native` (the `/<root>/<service>/providers/<host:port>` layout) or `cpp` (C++ mprpc's). */
  layout: "native" | "cpp";
  /** Method names, as the node(s) list them. */
  methods: string[];
  /** Balancing weight (native layout). */
  weight: number;
  /** `Date.now()` time the node was created (when the provider registered). */
  registeredAt: number;
  /** The ZooKeeper session owning the node, in hex (`0x...`); empty for a persistent node. */
  session: string;
  /** What is wrong with the node, when it cannot be used (callers skip it). */
  problem?: string;
}

/** Options of {@linkcode listRegistry}. */
export interface ListRegistryOptions {
  /** Root of the native layout; default `/mprpc`. */
  root?: string | undefined;
  /** How long to wait for ZooKeeper, ms; default 10000. */
  timeoutMs?: number | undefined;
}

interface RawStat {
  ctime: Buffer;
  ephemeralOwner: Buffer;
}

/** A node's creation time and owning session. */
function statInfo(stat: RawStat): { registeredAt: number; session: string } {
  const ctime = Number(Buffer.from(stat.ctime).readBigInt64BE(0));
  const owner = Buffer.from(stat.ephemeralOwner).toString("hex");
  return { registeredAt: ctime, session: /^0+$/.test(owner) ? "" : `0x${owner}` };
}

/**
 * Every provider ZooKeeper lists, sorted by service then address.
 *
 * @throws {RpcError} `UNAVAILABLE` when ZooKeeper cannot be reached within `timeoutMs`.
 *
 * @example
 * ```ts ignore
 * for (const p of await listRegistry("127.0.0.1:2181")) {
 *   console.log(p.service, p.address, p.layout, p.methods.join(","));
 * }
 * ```
 */
export async function listRegistry(
  connect: string,
  options: ListRegistryOptions = {},
): Promise<ListedProvider[]> {
  await loadZooKeeperClient();
  const root = normalizeRoot(options.root ?? DEFAULT_ZOOKEEPER_ROOT);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const raw = zookeeper.createClient(connect, { sessionTimeout: 10_000, spinDelay: 100 });
  let closed = false;
  let spin: ReturnType<typeof setTimeout> | undefined;
  guardReconnects(raw, 100, () => closed, (t) => spin = t);
  let connected = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new RpcError(
              Code.UNAVAILABLE,
              `ZooKeeper ${connect} unreachable within ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      raw.once("connected", () => {
        clearTimeout(timer);
        connected = true;
        resolve();
      });
      raw.connect();
    });
    return await readAll(raw, root);
  } finally {
    closed = true;
    clearTimeout(spin);
    await closeRawClient(raw, connected);
  }
}

// deno-lint-ignore no-explicit-any
async function readAll(raw: any, root: string): Promise<ListedProvider[]> {
  const call = <T>(fn: (cb: (err: unknown, ...rest: unknown[]) => void) => void) =>
    new Promise<T>((resolve, reject) =>
      fn((err, ...rest) => err ? reject(err) : resolve(rest as unknown as T))
    );
  const children = async (path: string): Promise<string[]> => {
    try {
      return (await call<[string[]]>((cb) => raw.getChildren(path, cb)))[0].sort();
    } catch (e) {
      if ((e as { code?: number }).code === zookeeper.Exception.NO_NODE) return [];
      throw new RpcError(Code.UNAVAILABLE, `cannot list ${path}: ${errorMessage(e)}`);
    }
  };
  const data = async (path: string): Promise<[Buffer | undefined, RawStat] | undefined> => {
    try {
      return await call<[Buffer | undefined, RawStat]>((cb) => raw.getData(path, cb));
    } catch (e) {
      if ((e as { code?: number }).code === zookeeper.Exception.NO_NODE) return undefined;
      throw new RpcError(Code.UNAVAILABLE, `cannot read ${path}: ${errorMessage(e)}`);
    }
  };
  const out: ListedProvider[] = [];
  for (const service of await children(root === "" ? "/" : root)) {
    for (const node of await children(providersPath(root, service))) {
      const got = await data(`${providersPath(root, service)}/${node}`);
      if (got === undefined) continue; // gone meanwhile
      const [bytes, stat] = got;
      const read = decodeProvider(node, bytes);
      out.push({
        service,
        address: read.endpoint ? endpointKey(read.endpoint) : node,
        layout: "native",
        methods: read.endpoint?.methods ?? [],
        weight: read.endpoint?.weight ?? 1,
        ...statInfo(stat),
        ...(read.problem !== undefined ? { problem: read.problem } : {}),
      });
    }
  }
  // The C++ layout: /<Service>/<Method> holding ip:port, at the top level.
  const skip = new Set(["zookeeper", root.split("/")[1] ?? ""]);
  for (const service of await children("/")) {
    if (skip.has(service)) continue;
    const byAddress = new Map<string, ListedProvider>();
    for (const method of await children(`/${service}`)) {
      const got = await data(`/${service}/${method}`);
      const read = got && decodeLegacy(got[0]);
      if (!got || !read?.endpoint) continue; // not a C++ method node
      const address = endpointKey(read.endpoint);
      let p = byAddress.get(address);
      if (p === undefined) {
        byAddress.set(
          address,
          p = { service, address, layout: "cpp", methods: [], weight: 1, ...statInfo(got[1]) },
        );
      }
      p.methods.push(method);
      p.registeredAt = Math.min(p.registeredAt, statInfo(got[1]).registeredAt);
    }
    out.push(...byAddress.values());
  }
  return out.sort((a, b) =>
    a.service < b.service ? -1 : a.service > b.service ? 1 : a.address < b.address ? -1 : 1
  );
}
