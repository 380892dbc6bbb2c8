/**
 * One ZooKeeper session: a thin, promise-based wrapper over one node-zookeeper-client, private
 * to {@linkcode ZooKeeperRegistry} and to `listRegistry` (src/ops/registry_listing.ts). It adds
 * what the client lacks: operations that fail fast while disconnected and time out instead of
 * waiting forever, state changes delivered outside the client's socket callback, and a close
 * that really releases the socket and every timer.
 *
 * @module
 */
import { Buffer } from "../../deps.ts";
import { zookeeper } from "./zk_client.ts";
import {
  closeRawClient,
  CM,
  guardReconnects,
  type RawCallback,
  type RawClient,
  type RawConnectionManager,
  type ZkEvent,
  type ZkRawAcl,
} from "./zk_client_patches.ts";

export type { ZkEvent, ZkRawAcl };

/** Connection states as the registry sees them. */
export type ZkState = "connecting" | "connected" | "disconnected" | "expired" | "closed";

/** The fields of a node's stat that the registry and `listRegistry` read. */
export interface ZkStat {
  /** When the node was created, ms since the epoch, as 8 bytes (big-endian). */
  ctime: Buffer;
  /** Session id owning an ephemeral node, 8 bytes (zero for persistent nodes). */
  ephemeralOwner: Buffer;
  /** Data version. */
  version: number;
}

/** ZooKeeper's `KeeperException` codes that the registry looks at. */
export const ZkCode = {
  SYSTEM_ERROR: -1,
  CONNECTION_LOSS: -4,
  OPERATION_TIMEOUT: -7,
  UNKNOWN_SESSION: -12,
  NO_NODE: -101,
  NO_AUTH: -102,
  BAD_VERSION: -103,
  NODE_EXISTS: -110,
  NOT_EMPTY: -111,
  SESSION_EXPIRED: -112,
  INVALID_ACL: -114,
  AUTH_FAILED: -115,
  SESSION_MOVED: -118,
} as const;

/** A failed ZooKeeper operation. */
export class ZkError extends Error {
  /** ZooKeeper's error code, e.g. {@linkcode ZkCode.NODE_EXISTS}. */
  readonly code: number;
  /** Creates an error; `codeName` is ZooKeeper's name for the code. */
  constructor(code: number, codeName: string, op: string, path: string) {
    super(`ZooKeeper ${op} ${path} failed: ${codeName} (${code})`);
    this.name = "ZkError";
    this.code = code;
  }
}

/** The ZooKeeper error code of anything thrown, or undefined. */
export function zkCode(err: unknown): number | undefined {
  return err instanceof ZkError ? err.code : undefined;
}

/** Whether an error means "ZooKeeper is not reachable right now" (worth retrying later). */
export function isTransient(err: unknown): boolean {
  const code = zkCode(err);
  return code === ZkCode.CONNECTION_LOSS || code === ZkCode.OPERATION_TIMEOUT ||
    code === ZkCode.SESSION_EXPIRED || code === ZkCode.UNKNOWN_SESSION ||
    code === ZkCode.SESSION_MOVED;
}

/** Upper bound of the random pause between connection attempts, ms, when no `spinDelayMs` is given. */
export const DEFAULT_SPIN_DELAY_MS = 200;

/** Options of {@linkcode ZkSession}. */
export interface ZkSessionOptions {
  /** Requested session timeout, ms (the server may grant another). */
  sessionTimeoutMs: number;
  /** How long an operation may take before it fails and the connection is reset, ms. */
  opTimeoutMs: number;
  /** Upper bound of the random pause between connection attempts, ms. Default {@linkcode DEFAULT_SPIN_DELAY_MS}. */
  spinDelayMs?: number;
  /** Auth added before connecting (sent again on every reconnect). */
  auth?: { scheme: string; id: string } | undefined;
  /** Called on each state change, from a microtask (never inside the client's socket callback). */
  onState?: (state: ZkState) => void;
  /** Called when the client choked on a reply (the connection is then reset). */
  onError?: (err: unknown) => void;
}

let nextLocalId = 1;

/**
 * One node-zookeeper-client connection and session. The client reconnects by itself within the
 * session; once the session expires or {@linkcode ZkSession.close} is called it is done for good
 * and the owner opens a new one.
 *
 * @example
 * ```ts ignore
 * const s = new ZkSession("127.0.0.1:2181", { sessionTimeoutMs: 30000, opTimeoutMs: 10000 });
 * if (await s.waitConnected(10000)) console.log(await s.getChildren("/"));
 * await s.close(true);
 * ```
 */
export class ZkSession {
  /** A small number identifying this session object in logs. */
  readonly localId: number = nextLocalId++;
  #raw: RawClient;
  #cm: RawConnectionManager;
  #opts: ZkSessionOptions;
  #state: ZkState = "connecting";
  #closed = false;
  #closing: Promise<void> | undefined;
  #spin: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  /** When the socket last delivered data (or finished its TCP connect). */
  #lastReceive = 0;
  /** TCP connected, waiting for the server's answer to the session handshake. */
  #handshaking = false;
  #waiters = new Set<(ok: boolean) => void>();

  /** Creates the client and starts connecting. */
  constructor(connect: string, opts: ZkSessionOptions) {
    this.#opts = opts;
    const spinDelay = opts.spinDelayMs ?? DEFAULT_SPIN_DELAY_MS;
    this.#raw = zookeeper.createClient(connect, {
      sessionTimeout: opts.sessionTimeoutMs,
      spinDelay,
      retries: 0,
    }) as RawClient;
    this.#cm = this.#raw.connectionManager;
    guardReconnects(this.#raw, spinDelay, () => this.#closed, (t) => this.#spin = t);
    this.#startWatchdog();
    if (opts.auth) this.#raw.addAuthInfo(opts.auth.scheme, Buffer.from(opts.auth.id));
    this.#cm.on("state", (s) => this.#onRawState(s));
    this.#raw.connect();
  }

  /** The current state. */
  get state(): ZkState {
    return this.#state;
  }

  /** The session id as `0x` + 16 hex digits (all zero before the first connection). */
  get sessionIdHex(): string {
    return sessionHex(this.#raw.getSessionId());
  }

  /** The session timeout the server granted (the requested one before connecting), ms. */
  get sessionTimeoutMs(): number {
    return this.#cm.sessionTimeout;
  }

  /** Resolves true once connected, false after `timeoutMs` or when the session ends. */
  waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.#state === "connected") return Promise.resolve(true);
    if (this.#closed || this.#state === "expired" || this.#state === "closed") {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#waiters.add(done);
    });
  }

  /** Creates a node. */
  async create(path: string, data: Buffer, acl: ZkRawAcl[], mode: number): Promise<void> {
    await this.#op("create", path, (cb) => this.#raw.create(path, data, acl, mode, cb));
  }

  /** Deletes a node if its version matches (`-1`: any version). */
  async remove(path: string, version = -1): Promise<void> {
    await this.#op("remove", path, (cb) => this.#raw.remove(path, version, cb));
  }

  /** Replaces a node's data. */
  async setData(path: string, data: Buffer, version = -1): Promise<void> {
    await this.#op("setData", path, (cb) => this.#raw.setData(path, data, version, cb));
  }

  /** A node's data and stat; with `watcher`, a one-shot data watch is left. */
  async getData(
    path: string,
    watcher?: (e: ZkEvent) => void,
  ): Promise<{ data: Buffer; stat: ZkStat }> {
    const [data, stat] = await this.#op(
      "getData",
      path,
      (cb) => this.#raw.getData(path, watcher, cb),
    );
    return { data: (data as Buffer | undefined) ?? Buffer.alloc(0), stat: stat as ZkStat };
  }

  /** A node's stat or null; with `watcher`, a one-shot watch for creation/change is left. */
  async exists(path: string, watcher?: (e: ZkEvent) => void): Promise<ZkStat | null> {
    const [stat] = await this.#op("exists", path, (cb) => this.#raw.exists(path, watcher, cb));
    return (stat as ZkStat | null | undefined) ?? null;
  }

  /** A node's children; with `watcher`, a one-shot children watch is left. */
  async getChildren(path: string, watcher?: (e: ZkEvent) => void): Promise<string[]> {
    const [children] = await this.#op(
      "getChildren",
      path,
      (cb) => this.#raw.getChildren(path, watcher, cb),
    );
    return children as string[];
  }

  /**
   * Ends the session. `graceful` (and connected): tells the server to close the session, which
   * deletes its ephemeral nodes at once, waiting at most 2 s for the answer. Otherwise the socket
   * is simply dropped and the server expires the session later. Idempotent.
   */
  close(graceful: boolean): Promise<void> {
    return this.#closing ??= this.#close(graceful);
  }

  async #close(graceful: boolean): Promise<void> {
    const connected = this.#state === "connected";
    this.#closed = true;
    clearTimeout(this.#spin);
    clearInterval(this.#watchdog);
    this.#setState("closed");
    await closeRawClient(this.#raw, graceful && connected);
  }

  /**
   * node-zookeeper-client (1.1.3) neither bounds the session handshake nor notices a silent
   * connection (it sends pings but never checks for answers). Like the Java client, drop the
   * socket when the handshake takes longer than a third of the session timeout (at most 2 s),
   * or when nothing arrived for two thirds of it; the client then reconnects.
   */
  #startWatchdog(): void {
    const cm = this.#cm;
    const onConnected = cm.onSocketConnected;
    const onData = cm.onSocketData;
    cm.onSocketConnected = () => {
      this.#lastReceive = Date.now();
      this.#handshaking = true;
      onConnected.call(cm);
    };
    cm.onSocketData = (buffer) => {
      this.#lastReceive = Date.now();
      try {
        onData.call(cm, buffer);
      } catch (err) {
        // A reply the client cannot parse: never let it escape the socket handler (that would
        // end the process); drop the connection, which fails pending requests and reconnects.
        this.#opts.onError?.(err);
        cm.socket?.destroy();
      }
    };
    const every = Math.max(50, Math.min(500, this.#opts.sessionTimeoutMs / 10));
    this.#watchdog = setInterval(() => {
      if (this.#closed) return;
      const timeout = cm.sessionTimeout;
      const connected = cm.state === CM.CONNECTED || cm.state === CM.CONNECTED_READ_ONLY;
      const limit = connected
        ? (timeout * 2) / 3
        : this.#handshaking
        ? Math.min(2000, Math.max(200, timeout / 3))
        : Infinity;
      if (Date.now() - this.#lastReceive > limit) {
        this.#handshaking = false;
        cm.socket?.destroy(); // the client's close handler reconnects
      }
    }, every);
  }

  #onRawState(s: number): void {
    if (s !== CM.CONNECTING) this.#handshaking = false;
    if (this.#closed) return;
    switch (s) {
      case CM.CONNECTED:
      case CM.CONNECTED_READ_ONLY:
        this.#setState("connected");
        break;
      case CM.DISCONNECTED:
        if (this.#state === "connected") this.#setState("disconnected");
        break;
      case CM.SESSION_EXPIRED:
        this.#setState("expired");
        break;
      case CM.AUTH_FAILED:
      case CM.CLOSED:
        this.#setState("closed");
        break;
    }
  }

  #setState(state: ZkState): void {
    if (this.#state === state) return;
    this.#state = state;
    if (state !== "connecting" && state !== "disconnected") {
      for (const w of [...this.#waiters]) w(state === "connected");
    }
    const cb = this.#opts.onState;
    if (cb) queueMicrotask(() => cb(state));
  }

  #op(op: string, path: string, start: (cb: RawCallback) => void): Promise<unknown[]> {
    if (this.#state !== "connected") {
      const code = this.#state === "expired" ? ZkCode.SESSION_EXPIRED : ZkCode.CONNECTION_LOSS;
      return Promise.reject(
        new ZkError(
          code,
          code === ZkCode.SESSION_EXPIRED ? "SESSION_EXPIRED" : "CONNECTION_LOSS",
          op,
          path,
        ),
      );
    }
    return new Promise<unknown[]>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new ZkError(ZkCode.OPERATION_TIMEOUT, "OPERATION_TIMEOUT", op, path));
        // No answer on an open connection: the server hangs or the link is gone without a
        // reset. Dropping the socket makes the client reconnect (and fail pending requests).
        if (!this.#closed) this.#cm.socket?.destroy();
      }, this.#opts.opTimeoutMs);
      start((err, ...rest) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          const e = err as { code?: number; name?: string };
          reject(
            typeof e.code === "number" ? new ZkError(e.code, e.name ?? "ERROR", op, path) : err,
          );
        } else resolve(rest);
      });
    });
  }
}

/** `0x` + 16 hex digits of an 8-byte session id. */
export function sessionHex(id: Buffer | Uint8Array): string {
  return "0x" + Array.from(id, (b) => b.toString(16).padStart(2, "0")).join("");
}
