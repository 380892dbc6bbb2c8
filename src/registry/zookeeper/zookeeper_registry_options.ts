/**
 * Options of {@linkcode ZooKeeperRegistry} and their defaults. This file loads no ZooKeeper
 * client, so configuration code can read the defaults without it.
 *
 * @module
 */
import type { Logger } from "../../log/logger.ts";
import type { ZooKeeperAclEntry } from "./zk_acl.ts";

/** Path under which services live when no `root` is given. */
export const DEFAULT_ZOOKEEPER_ROOT = "/mprpc";

// The session and connect timeouts are shared with the configuration (src/defaults.ts):
// `DEFAULT_SESSION_TIMEOUT_MS`, and `DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS` for `connectTimeoutMs`.
export {
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
} from "../../defaults.ts";

/** Delay that coalesces bursts of watch events, ms, when no `debounceMs` is given. */
export const DEFAULT_DEBOUNCE_MS = 50;

/** How long an empty list after a reconnection is not trusted, ms, when no `emptyGraceMs` is given. */
export const DEFAULT_EMPTY_GRACE_MS = 3_000;

/** Options of {@linkcode ZooKeeperRegistry}. */
export interface ZooKeeperRegistryOptions {
  /** Ensemble, `"host:port[,host:port...]"`. */
  connect: string;
  /** Path under which services live. Default {@linkcode DEFAULT_ZOOKEEPER_ROOT}. */
  root?: string;
  /**
   * Requested session timeout, ms (the server clamps it to its min/max). Default
   * {@linkcode DEFAULT_SESSION_TIMEOUT_MS}.
   */
  sessionTimeoutMs?: number;
  /**
   * How long `register`/`resolve` wait for ZooKeeper before failing UNAVAILABLE, ms. Default
   * {@linkcode DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS}.
   */
  connectTimeoutMs?: number;
  /** Digest credentials, `{ scheme: "digest", id: "user:password" }`, sent on every connect. */
  auth?: { scheme: "digest"; id: string };
  /**
   * ACL of the nodes this registry creates. Default: with `auth`, ALL for that identity and
   * READ for everyone; without, open (world ALL).
   */
  acl?: ZooKeeperAclEntry[];
  /**
   * The C++ mprpc's `/<Service>/<Method>` = `ip:port` nodes. By default (undefined) they are
   * written for registrations with `legacy: true`, i.e. for every `RpcProvider` that speaks the
   * C++ protocol, so C++ callers find it by themselves; `true` also writes them for registrations
   * that do not say (a registration with `legacy: false` is never written: one WARN says why);
   * `false` never writes them. Reading them with
   * {@linkcode ZooKeeperRegistry.resolveLegacy} works either way.
   */
  legacyLayout?: boolean;
  /** Where to log. Default a {@linkcode ConsoleLogger} (at its default level, WARN). */
  logger?: Logger;
  /** Delay that coalesces bursts of watch events into one re-read, ms. Default {@linkcode DEFAULT_DEBOUNCE_MS}. */
  debounceMs?: number;
  /**
   * After a (re)connection, an empty provider list does not replace a non-empty cached one
   * until this much time has passed (providers may still be re-registering), ms. Default
   * {@linkcode DEFAULT_EMPTY_GRACE_MS}.
   */
  emptyGraceMs?: number;
}
