/**
 * The defaults shared by the constructors and by the configuration, in one place.
 *
 * @module
 */
export { DEFAULT_MAX_MESSAGE_BYTES } from "./wire/frame.ts";

/**
 * The deadline of a call when neither the call nor the channel sets one: 30 s. Used by
 * `RpcChannel` and as the `timeoutms` default of the configuration.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMEOUT_MS } from "./defaults.ts";
 * if (DEFAULT_TIMEOUT_MS !== 30_000) throw new Error();
 * ```
 */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * The ZooKeeper session timeout of the configuration's `sessiontimeoutms`: 30 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_SESSION_TIMEOUT_MS } from "./defaults.ts";
 * if (DEFAULT_SESSION_TIMEOUT_MS !== 30_000) throw new Error();
 * ```
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 30_000;

/**
 * How long the configuration's `zookeeperconnecttimeoutms` waits for a session: 10 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS } from "./defaults.ts";
 * if (DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS !== 10_000) throw new Error();
 * ```
 */
export const DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS = 10_000;
