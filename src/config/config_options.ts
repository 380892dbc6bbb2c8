/**
 * The constructor options a configuration stands for, so programs do not map fields by hand.
 *
 * @module
 */

import type { RpcChannelOptions } from "../client/rpc_channel.ts";
import type { ZooKeeperRegistryOptions } from "../registry/zookeeper/zookeeper_registry.ts";
import type { RpcProviderOptions } from "../server/rpc_provider.ts";
import type { MprpcConfig } from "./config_keys.ts";
import { zookeeperConnect } from "./resolve_config.ts";

/** The {@linkcode RpcProviderOptions} a configuration sets. */
export type ConfiguredProviderOptions =
  & Required<Pick<RpcProviderOptions, "host" | "port" | "maxMessageBytes" | "legacy" | "workers">>
  & Pick<RpcProviderOptions, "admin">;

/**
 * The provider options a configuration sets: `host`, `port`, `maxMessageBytes`, `legacy`,
 * `workers`, and `admin` (on `host`) when `adminport` is set. Spread them and add the rest (`registry`, `logger`, `workerModule`, ...).
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG, providerOptions } from "../../config.ts";
 * const o = providerOptions({ ...DEFAULT_CONFIG, rpcServerPort: 8001, workers: 2 });
 * if (o.port !== 8001 || o.workers !== 2 || o.host !== "127.0.0.1") throw new Error();
 * ```
 */
export function providerOptions(config: MprpcConfig): ConfiguredProviderOptions {
  return {
    host: config.rpcServerIp,
    port: config.rpcServerPort,
    maxMessageBytes: config.maxMessageBytes,
    legacy: config.legacy,
    workers: config.workers,
    ...(config.adminPort !== undefined &&
      { admin: { host: config.rpcServerIp, port: config.adminPort } }),
  };
}

/** The {@linkcode RpcChannelOptions} a configuration sets. */
export type ConfiguredChannelOptions = Required<
  Pick<RpcChannelOptions, "timeoutMs" | "maxMessageBytes">
>;

/**
 * The channel options a configuration sets: `timeoutMs` and `maxMessageBytes`. Spread them
 * and add `registry` (or `address`) and `logger`.
 *
 * @example
 * ```ts
 * import { channelOptions, DEFAULT_CONFIG } from "../../config.ts";
 * const o = channelOptions({ ...DEFAULT_CONFIG, timeoutMs: 2000 });
 * if (o.timeoutMs !== 2000 || o.maxMessageBytes !== 4 * 1024 * 1024) throw new Error();
 * ```
 */
export function channelOptions(config: MprpcConfig): ConfiguredChannelOptions {
  return { timeoutMs: config.timeoutMs, maxMessageBytes: config.maxMessageBytes };
}

/** The {@linkcode ZooKeeperRegistryOptions} a configuration sets. */
export type ConfiguredZooKeeperOptions = Required<
  Pick<ZooKeeperRegistryOptions, "connect" | "root" | "sessionTimeoutMs" | "connectTimeoutMs">
>;

/**
 * The ZooKeeper registry options a configuration sets (`connect`, `root`, the session and
 * connect timeouts), or `undefined` when it names no ZooKeeper (use a static registry).
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG, zookeeperOptions } from "../../config.ts";
 * if (zookeeperOptions(DEFAULT_CONFIG) !== undefined) throw new Error();
 * const o = zookeeperOptions({ ...DEFAULT_CONFIG, zookeeperIp: "10.0.0.5" });
 * if (o?.connect !== "10.0.0.5:2181" || o.root !== "/mprpc") throw new Error();
 * ```
 */
export function zookeeperOptions(config: MprpcConfig): ConfiguredZooKeeperOptions | undefined {
  const connect = zookeeperConnect(config);
  if (connect === undefined) return undefined;
  return {
    connect,
    root: config.zookeeperRoot,
    sessionTimeoutMs: config.sessionTimeoutMs,
    connectTimeoutMs: config.zookeeperConnectTimeoutMs,
  };
}
