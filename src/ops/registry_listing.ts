/**
 * What a ZooKeeper holds about mprpc providers, read directly (no registry instance, no
 * registration): every service of the native layout under a root, and every service of the C++
 * mprpc layout at the top level (docs/zookeeper.md). `mprpc ls --zk` prints it.
 *
 * @module
 */
import type { Buffer } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { errorMessage } from "../util/error_message.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import { callSignal, raceSignal } from "../util/signals.ts";
import { loadZooKeeperClient } from "../registry/zookeeper/zk_client.ts";
import {
  ZkCode,
  zkCode,
  ZkError,
  ZkSession,
  type ZkStat,
} from "../registry/zookeeper/zk_session.ts";
import {
  decodeLegacy,
  decodeProvider,
  normalizeRoot,
  providersPath,
} from "../registry/zookeeper/zk_layout.ts";
import { DEFAULT_ZOOKEEPER_ROOT } from "../registry/zookeeper/zookeeper_registry_options.ts";

/** How long {@linkcode listRegistry} may take by default (connecting and reading), ms. */
export const DEFAULT_LIST_TIMEOUT_MS = 10_000;
/** How many nodes {@linkcode listRegistry} reads at most by default (see `maxNodes`). */
export const DEFAULT_LIST_MAX_NODES = 10_000;

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

/**
 * Options of {@linkcode listRegistry}.
 *
 * @example A short deadline for a script
 * ```ts
 * import type { ListRegistryOptions } from "./registry_listing.ts";
 * const options: ListRegistryOptions = { root: "/mprpc", timeoutMs: 3000, maxNodes: 500 };
 * console.log(options.timeoutMs); // 3000
 * ```
 */
export interface ListRegistryOptions {
  /** Root of the native layout; default `/mprpc`. */
  root?: string | undefined;
  /**
   * How long the whole listing may take, ms: connecting and every read after it, one deadline
   * for all. Default {@linkcode DEFAULT_LIST_TIMEOUT_MS}.
   */
  timeoutMs?: number | undefined;
  /**
   * How many nodes the listing reads at most: the children of every node it lists, summed (the
   * services under the root, their providers, and the top-level nodes and their children for the
   * C++ layout). A ZooKeeper holding more fails the listing `RESOURCE_EXHAUSTED` instead of
   * reading on. Default {@linkcode DEFAULT_LIST_MAX_NODES}.
   */
  maxNodes?: number | undefined;
}

/** A node's creation time and owning session. */
function statInfo(stat: ZkStat): { registeredAt: number; session: string } {
  const ctime = Number(stat.ctime.readBigInt64BE(0));
  const owner = stat.ephemeralOwner.toString("hex");
  return { registeredAt: ctime, session: /^0+$/.test(owner) ? "" : `0x${owner}` };
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

/**
 * Every provider ZooKeeper lists, sorted by service then address. One deadline, `timeoutMs`,
 * bounds it all: connecting and reading (a ZooKeeper that stops answering midway fails the
 * listing when the deadline passes). The ZooKeeper session is closed before this settles.
 *
 * @param connect ZooKeeper's `host:port[,host:port...]`.
 * @param options Root, deadline and node limit.
 * @returns The providers, native and C++ layout.
 *
 * @throws {RpcError} `UNAVAILABLE` when ZooKeeper cannot be reached, or does not answer every
 *   read, within `timeoutMs` (the message names ZooKeeper and the node being read), or when the
 *   connection is lost; `RESOURCE_EXHAUSTED` when it holds more than `maxNodes` nodes to read.
 * @throws {RangeError} when `timeoutMs` or `maxNodes` is not a positive integer.
 *
 * @example
 * ```ts ignore
 * for (const p of await listRegistry("127.0.0.1:2181", { timeoutMs: 3000 })) {
 *   console.log(p.service, p.address, p.layout, p.methods.join(","));
 * }
 * ```
 */
export async function listRegistry(
  connect: string,
  options: ListRegistryOptions = {},
): Promise<ListedProvider[]> {
  const root = normalizeRoot(options.root ?? DEFAULT_ZOOKEEPER_ROOT);
  const timeoutMs = positiveInteger("timeoutMs", options.timeoutMs ?? DEFAULT_LIST_TIMEOUT_MS);
  const maxNodes = positiveInteger("maxNodes", options.maxNodes ?? DEFAULT_LIST_MAX_NODES);
  await loadZooKeeperClient(); // local: the deadline is ZooKeeper's
  const deadline = callSignal(undefined, Date.now() + timeoutMs);
  try {
    // Each read is bounded by the deadline below; the session's own operation timeout only
    // backs that up (it never fires first).
    const session = new ZkSession(connect, {
      sessionTimeoutMs: 10_000,
      opTimeoutMs: timeoutMs,
      spinDelayMs: 100,
    });
    const reader = new Reader(session, connect, maxNodes);
    let reading: Promise<ListedProvider[]> | undefined;
    try {
      if (!await session.waitConnected(timeoutMs)) throw unreachable(connect, timeoutMs);
      reading = readAll(reader, root);
      return await raceSignal(
        reading,
        deadline.signal,
        () =>
          new RpcError(
            Code.UNAVAILABLE,
            `ZooKeeper ${connect} did not answer within ${timeoutMs} ms (reading ${reader.path})`,
          ),
      );
    } finally {
      // Closing drops the socket, which fails the read in flight: readAll then ends at once.
      await session.close(false);
      await reading?.catch(() => {});
    }
  } finally {
    deadline.cleanup();
  }
}

function unreachable(connect: string, timeoutMs: number): RpcError {
  return new RpcError(Code.UNAVAILABLE, `ZooKeeper ${connect} unreachable within ${timeoutMs} ms`);
}

/** Reads through one session, counting the nodes listed and remembering the node being read. */
class Reader {
  /** The node being read (for the deadline's error). */
  path = "";
  #listed = 0;

  constructor(
    readonly session: ZkSession,
    readonly connect: string,
    readonly maxNodes: number,
  ) {}

  /** A node's children, sorted; none when it does not exist. */
  async children(path: string): Promise<string[]> {
    this.path = path;
    let names: string[];
    try {
      names = await this.session.getChildren(path);
    } catch (e) {
      if (zkCode(e) === ZkCode.NO_NODE) return [];
      throw this.#failed(e, "getChildren", path);
    }
    this.#listed += names.length;
    if (this.#listed > this.maxNodes) {
      throw new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `ZooKeeper ${this.connect} holds more nodes than a listing reads at most ` +
          `(maxNodes ${this.maxNodes}): ${this.#listed} listed, the last ${names.length} ` +
          `under ${path}`,
      );
    }
    return names.sort();
  }

  /** A node's data and stat; undefined when it does not exist. */
  async data(path: string): Promise<{ data: Buffer; stat: ZkStat } | undefined> {
    this.path = path;
    try {
      return await this.session.getData(path);
    } catch (e) {
      if (zkCode(e) === ZkCode.NO_NODE) return undefined;
      throw this.#failed(e, "getData", path);
    }
  }

  /** `ZooKeeper <connect>: getChildren /mprpc failed: CONNECTION_LOSS (-4)` and the like. */
  #failed(e: unknown, op: string, path: string): RpcError {
    const why = e instanceof ZkError
      ? e.message.replace(/^ZooKeeper /, "")
      : `${op} ${path} failed: ${errorMessage(e)}`;
    return new RpcError(Code.UNAVAILABLE, `ZooKeeper ${this.connect}: ${why}`, { cause: e });
  }
}

async function readAll(reader: Reader, root: string): Promise<ListedProvider[]> {
  const children = (path: string) => reader.children(path);
  const data = (path: string) => reader.data(path);
  const out: ListedProvider[] = [];
  for (const service of await children(root === "" ? "/" : root)) {
    for (const node of await children(providersPath(root, service))) {
      const got = await data(`${providersPath(root, service)}/${node}`);
      if (got === undefined) continue; // gone meanwhile
      const read = decodeProvider(node, got.data);
      out.push({
        service,
        address: read.endpoint ? endpointKey(read.endpoint) : node,
        layout: "native",
        methods: read.endpoint?.methods ?? [],
        weight: read.endpoint?.weight ?? 1,
        ...statInfo(got.stat),
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
      const read = got && decodeLegacy(got.data);
      if (!got || !read?.endpoint) continue; // not a C++ method node
      const address = endpointKey(read.endpoint);
      let p = byAddress.get(address);
      if (p === undefined) {
        byAddress.set(
          address,
          p = { service, address, layout: "cpp", methods: [], weight: 1, ...statInfo(got.stat) },
        );
      }
      p.methods.push(method);
      p.registeredAt = Math.min(p.registeredAt, statInfo(got.stat).registeredAt);
    }
    out.push(...byAddress.values());
  }
  return out.sort((a, b) =>
    a.service < b.service ? -1 : a.service > b.service ? 1 : a.address < b.address ? -1 : 1
  );
}
