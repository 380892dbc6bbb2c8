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

/**
 * How long a channel waits for a provider to accept a connection and answer its handshake: 3 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONNECT_TIMEOUT_MS } from "./defaults.ts";
 * if (DEFAULT_CONNECT_TIMEOUT_MS !== 3_000) throw new Error();
 * ```
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;

/**
 * A channel pings a connection it has not heard from for this long: 10 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_KEEPALIVE_MS } from "./defaults.ts";
 * if (DEFAULT_KEEPALIVE_MS !== 10_000) throw new Error();
 * ```
 */
export const DEFAULT_KEEPALIVE_MS = 10_000;

/**
 * A channel closes a connection whose ping is not answered within this long: 5 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_KEEPALIVE_TIMEOUT_MS } from "./defaults.ts";
 * if (DEFAULT_KEEPALIVE_TIMEOUT_MS !== 5_000) throw new Error();
 * ```
 */
export const DEFAULT_KEEPALIVE_TIMEOUT_MS = 5_000;

/**
 * Calls a provider serves at once on one connection before it answers `RESOURCE_EXHAUSTED`.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_INFLIGHT_PER_CONNECTION } from "./defaults.ts";
 * if (DEFAULT_MAX_INFLIGHT_PER_CONNECTION !== 100_000) throw new Error();
 * ```
 */
export const DEFAULT_MAX_INFLIGHT_PER_CONNECTION = 100_000;

/**
 * Streaming calls a provider keeps open at once on one connection before it answers a new one
 * `RESOURCE_EXHAUSTED`.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_STREAMS_PER_CONNECTION } from "./defaults.ts";
 * if (DEFAULT_MAX_STREAMS_PER_CONNECTION !== 1_000) throw new Error();
 * ```
 */
export const DEFAULT_MAX_STREAMS_PER_CONNECTION = 1_000;

/**
 * A provider logs a call slower than this as slow: 1 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_SLOW_CALL_MS } from "./defaults.ts";
 * if (DEFAULT_SLOW_CALL_MS !== 1_000) throw new Error();
 * ```
 */
export const DEFAULT_SLOW_CALL_MS = 1_000;

/**
 * A provider closes a connection stalled (no frame, or no progress on one) this long: 30 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_READ_TIMEOUT_MS } from "./defaults.ts";
 * if (DEFAULT_READ_TIMEOUT_MS !== 30_000) throw new Error();
 * ```
 */
export const DEFAULT_READ_TIMEOUT_MS = 30_000;

/**
 * How long `provider.close()` lets calls in flight finish: 5 s.
 *
 * @example
 * ```ts
 * import { DEFAULT_GRACE_MS } from "./defaults.ts";
 * if (DEFAULT_GRACE_MS !== 5_000) throw new Error();
 * ```
 */
export const DEFAULT_GRACE_MS = 5_000;
