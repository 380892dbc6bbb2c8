/**
 * node-zookeeper-client 1.1.3 as the registry drives it (private): the shape of its private
 * connection manager, and three repairs applied from outside, version-pinned in
 * src/deps_zookeeper.ts: unknown error codes must not crash the process, a closed client must
 * never reconnect, and closing must release the socket.
 *
 * @module
 */
import type { Buffer } from "../../deps.ts";

/** node-zookeeper-client's ConnectionManager states. */
export const CM = {
  DISCONNECTED: 0,
  CONNECTING: 1,
  CONNECTED: 2,
  CONNECTED_READ_ONLY: 3,
  CLOSING: -1,
  CLOSED: -2,
  SESSION_EXPIRED: -3,
  AUTH_FAILED: -4,
} as const;

/** The socket the client holds (a node:net Socket). */
export interface RawSocket {
  destroy(): void;
  closed?: boolean;
  once(event: "close", fn: () => void): void;
}

/** The parts of node-zookeeper-client's private ConnectionManager relied on (1.1.3). */
export interface RawConnectionManager {
  state: number;
  socket?: RawSocket;
  connectTimeoutHandler?: ReturnType<typeof setTimeout>;
  sessionTimeout: number;
  servers: unknown[];
  nextServerIndex: number;
  serverAttempts: number;
  spinDelay: number;
  connect(): void;
  findNextServer(callback: (server: unknown) => void): void;
  onSocketConnected(): void;
  onSocketData(buffer: Buffer): void;
  on(event: "state", fn: (state: number) => void): void;
}

/** A node-zookeeper-client callback. */
export type RawCallback = (err: unknown, ...rest: unknown[]) => void;

/** An ACL entry in node-zookeeper-client's form (`new zookeeper.ACL(perms, new zookeeper.Id())`). */
export type ZkRawAcl = unknown;

/** A watch event. */
export interface ZkEvent {
  type: number;
  name: string;
  path: string;
}

/** The node-zookeeper-client Client methods used. */
export interface RawClient {
  connectionManager: RawConnectionManager;
  connect(): void;
  close(): void;
  getSessionId(): Buffer;
  addAuthInfo(scheme: string, auth: Buffer): void;
  create(path: string, data: Buffer, acls: ZkRawAcl[], mode: number, cb: RawCallback): void;
  remove(path: string, version: number, cb: RawCallback): void;
  setData(path: string, data: Buffer, version: number, cb: RawCallback): void;
  getData(path: string, watcher: ((e: ZkEvent) => void) | undefined, cb: RawCallback): void;
  exists(path: string, watcher: ((e: ZkEvent) => void) | undefined, cb: RawCallback): void;
  getChildren(path: string, watcher: ((e: ZkEvent) => void) | undefined, cb: RawCallback): void;
}

/** Names of codes newer servers send that node-zookeeper-client 1.1.3 does not know. */
const EXTRA_CODE_NAMES: Record<number, string> = {
  [-12]: "UNKNOWN_SESSION",
  [-13]: "NEW_CONFIG_NO_QUORUM",
  [-14]: "RECONFIG_IN_PROGRESS",
  [-118]: "SESSION_MOVED",
  [-119]: "NOT_READ_ONLY",
  [-120]: "EPHEMERAL_ON_LOCAL_SESSION",
  [-121]: "NO_WATCHER",
  [-122]: "REQUEST_TIMEOUT",
  [-123]: "RECONFIG_DISABLED",
  [-124]: "SESSION_CLOSED_REQUIRE_SASL_AUTH",
  [-125]: "QUOTA_EXCEEDED",
  [-127]: "THROTTLED_OP",
};

/**
 * node-zookeeper-client 1.1.3 throws from its socket data handler (an uncaught exception that
 * ends the process) when a reply carries an error code it does not know, such as
 * UNKNOWN_SESSION (-12) or SESSION_MOVED (-118) from ZooKeeper 3.5+. Its `Exception.create` is
 * looked up on the module at each call, so wrapping it once makes any code acceptable.
 * Idempotent; applied when the client module loads (zk_client.ts).
 */
export function tolerateUnknownCodes(zookeeper: { Exception: unknown }): void {
  const mod = zookeeper.Exception as {
    create: (code: number, path?: string) => Error & { code: number; name: string };
    __mprpcTolerant?: boolean;
  };
  if (mod.__mprpcTolerant) return;
  const create = mod.create;
  mod.create = (code: number, path?: string) => {
    try {
      return create(code, path);
    } catch {
      const e = create(-1, /* SYSTEM_ERROR */ path);
      e.code = code;
      e.name = EXTRA_CODE_NAMES[code] ?? `ZOOKEEPER_ERROR_${code}`;
      e.message = `Exception: ${e.name}[${code}]${path ? "@" + path : ""}`;
      return e;
    }
  };
  mod.__mprpcTolerant = true;
}

/**
 * Replaces node-zookeeper-client's private `findNextServer` (version 1.1.3) with the same logic
 * whose pause timer can be cancelled: once `isClosed()` the client never opens a socket again.
 * `onTimer` receives each pause timer (to clear it on close).
 */
export function guardReconnects(
  raw: unknown,
  spinDelay: number,
  isClosed: () => boolean,
  onTimer: (t: ReturnType<typeof setTimeout> | undefined) => void,
): void {
  const cm = (raw as RawClient).connectionManager;
  cm.findNextServer = (callback) => {
    if (isClosed()) return;
    cm.nextServerIndex %= cm.servers.length;
    const go = () => {
      if (isClosed()) return;
      callback(cm.servers[cm.nextServerIndex]);
      cm.nextServerIndex += 1;
    };
    if (cm.serverAttempts === cm.servers.length) {
      onTimer(setTimeout(() => {
        onTimer(undefined);
        go();
        cm.serverAttempts = 0;
      }, Math.random() * spinDelay));
    } else {
      cm.serverAttempts += 1;
      queueMicrotask(go);
    }
  };
}

/**
 * Closes a node-zookeeper-client for good and waits until its socket is gone. `graceful`
 * (only when connected): sends close-session and waits up to 2 s for the server to end it,
 * which deletes the session's ephemeral nodes at once; otherwise the socket is just dropped.
 */
export async function closeRawClient(raw: unknown, graceful: boolean): Promise<void> {
  const client = raw as RawClient;
  const cm = client.connectionManager;
  cm.connect = () => {}; // never reconnect again
  if (graceful && (cm.state === CM.CONNECTED || cm.state === CM.CONNECTED_READ_ONLY)) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      cm.on("state", (s) => {
        if (s === CM.CLOSED) {
          clearTimeout(timer);
          resolve();
        }
      });
      client.close();
    });
  }
  // CLOSING makes the client's socket-close handler end the client instead of retrying.
  if (cm.state !== CM.CLOSED) cm.state = CM.CLOSING;
  clearTimeout(cm.connectTimeoutHandler);
  const socket = cm.socket;
  if (socket && socket.closed !== true) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.destroy();
    });
  }
  clearTimeout(cm.connectTimeoutHandler);
}
