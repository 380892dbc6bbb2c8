/**
 * A plain, promise-based node-zookeeper-client, to look at what ZooKeeper itself holds (tests,
 * benchmarks).
 *
 * @module
 */
import { Buffer } from "../deps.ts";
import { zookeeper } from "../deps_zookeeper.ts";
import { closeRawClient, guardReconnects } from "../registry/zookeeper/zk_client_patches.ts";

/** Options of {@linkcode connectZkClient}. */
export interface ZkClientOptions {
  /** Requested session timeout, ms. Default 30000 (the server clamps it). */
  sessionTimeout?: number;
  /** Join an existing session: its id (8 bytes) ... */
  sessionId?: Buffer;
  /** ... and password (16 bytes). */
  sessionPassword?: Buffer;
  /** `"user:password"` added as digest auth before connecting. */
  digest?: string;
  /** How long to wait for the connection, ms. Default 10000. */
  timeoutMs?: number;
}

/** A node's metadata, as node-zookeeper-client returns it (the fields tests use). */
export interface ZkStat {
  /** Session id owning an ephemeral node (8 bytes, all zero for persistent nodes). */
  ephemeralOwner: Buffer;
  /** Data version. */
  version: number;
  /** Number of children. */
  numChildren: number;
}

/** An ACL entry, as node-zookeeper-client returns it. */
export interface ZkAclEntry {
  permission: number;
  id: { scheme: string; id: string };
}

/** A plain node-zookeeper-client with promise methods; see {@linkcode connectZkClient}. */
export interface ZkClient {
  /** The underlying node-zookeeper-client instance. */
  // deno-lint-ignore no-explicit-any
  readonly raw: any;
  /** The session id (8 bytes). */
  sessionId(): Buffer;
  /** The session password (16 bytes). */
  sessionPassword(): Buffer;
  /** Creates a node; `mode` is a `zookeeper.CreateMode` value (default persistent). */
  create(path: string, data?: Buffer, mode?: number, acl?: unknown[]): Promise<string>;
  /** Creates a node and its missing parents (persistent). */
  mkdirp(path: string): Promise<void>;
  /** The node's data and stat. */
  getData(path: string): Promise<{ data: Buffer | undefined; stat: ZkStat }>;
  /** Replaces the node's data. */
  setData(path: string, data: Buffer): Promise<void>;
  /** The node's children (sorted). */
  getChildren(path: string): Promise<string[]>;
  /** The node's stat, or null when it does not exist. */
  exists(path: string): Promise<ZkStat | null>;
  /** Deletes a node (any version). */
  remove(path: string): Promise<void>;
  /** The node's ACL. */
  getACL(path: string): Promise<ZkAclEntry[]>;
  /** Closes the session (deleting its ephemeral nodes) and the socket. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Connects a plain node-zookeeper-client, for tests that inspect ZooKeeper directly.
 *
 * @example Reading what a registry wrote
 * ```ts
 * import { connectZkClient } from "./_zk_client.ts";
 * import { startZooKeeper } from "./mod.ts";
 * await using zk = await startZooKeeper();
 * await using client = await connectZkClient(zk.connect);
 * await client.mkdirp("/a/b");
 * console.log(await client.getChildren("/a")); // ["b"]
 * ```
 */
export async function connectZkClient(
  connect: string,
  opts: ZkClientOptions = {},
): Promise<ZkClient> {
  const raw = zookeeper.createClient(connect, {
    sessionTimeout: opts.sessionTimeout ?? 30_000,
    spinDelay: 100,
    retries: 0,
    ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
    ...(opts.sessionPassword ? { sessionPassword: opts.sessionPassword } : {}),
  });
  if (opts.digest) raw.addAuthInfo("digest", Buffer.from(opts.digest));
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let closed = false;
  let spin: ReturnType<typeof setTimeout> | undefined;
  guardReconnects(raw, 100, () => closed, (t) => spin = t);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closing ??= (() => {
      closed = true;
      clearTimeout(spin);
      return closeRawClient(raw, true);
    })();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void close().then(() =>
        reject(new Error(`ZooKeeper ${connect} unreachable after ${timeoutMs} ms`))
      );
    }, timeoutMs);
    raw.once("connected", () => {
      clearTimeout(timer);
      resolve();
    });
    raw.once("expired", () => {
      clearTimeout(timer);
      void close().then(() => reject(new Error(`ZooKeeper session expired on connect`)));
    });
    raw.connect();
  });
  const call = <T>(fn: (cb: (err: unknown, ...rest: unknown[]) => void) => void) =>
    new Promise<T>((resolve, reject) =>
      fn((err, ...rest) => err ? reject(err) : resolve(rest as unknown as T))
    );
  return {
    raw,
    sessionId: () => raw.getSessionId(),
    sessionPassword: () => raw.getSessionPassword(),
    create: async (path, data, mode, acl) =>
      (await call<[string]>((cb) =>
        raw.create(
          path,
          data ?? Buffer.alloc(0),
          acl ?? zookeeper.ACL.OPEN_ACL_UNSAFE,
          mode ?? 0,
          cb,
        )
      ))[0],
    mkdirp: async (path) => {
      await call((cb) => raw.mkdirp(path, cb));
    },
    getData: async (path) => {
      const [data, stat] = await call<[Buffer | undefined, ZkStat]>((cb) => raw.getData(path, cb));
      return { data, stat };
    },
    setData: async (path, data) => {
      await call((cb) => raw.setData(path, data, -1, cb));
    },
    getChildren: async (path) =>
      (await call<[string[]]>((cb) => raw.getChildren(path, cb)))[0].sort(),
    exists: async (path) => (await call<[ZkStat | null]>((cb) => raw.exists(path, cb)))[0],
    remove: async (path) => {
      await call((cb) => raw.remove(path, -1, cb));
    },
    getACL: async (path) => (await call<[ZkAclEntry[]]>((cb) => raw.getACL(path, cb)))[0],
    close,
    [Symbol.asyncDispose]: close,
  };
}
