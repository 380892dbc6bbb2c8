/**
 * Application plumbing for providers and callers: the original mprpc `key=value` config file
 * (`provider -i test.conf`), `MPRPC_<KEY>` environment overrides and command-line flags, merged
 * in the order defaults < file < environment < flags, and the constructor options they stand
 * for. See docs/config.md.
 *
 * @example A provider configured from its command line
 * ```ts
 * import { configUsage, providerOptions, resolveConfig } from "./config.ts";
 *
 * const { config, help } = await resolveConfig({ args: ["--port", "8001"], env: {} });
 * if (help) console.log(configUsage("provider"));
 * const options = providerOptions(config); // spread into new RpcProvider({ ...options, ... })
 * if (options.port !== 8001) throw new Error();
 * ```
 *
 * @module
 */

export { ConfigError, type ConfigErrorInit } from "./src/config/config_error.ts";
export {
  type ConfigOverrides,
  DEFAULT_CONFIG,
  type MprpcConfig,
} from "./src/config/config_keys.ts";
export { loadConfig, parseConfig, type ParseConfigOptions } from "./src/config/config_file.ts";
export { envOverrides } from "./src/config/config_env.ts";
export {
  configUsage,
  type FlagOptions,
  parseArgs,
  type ParsedArgs,
} from "./src/config/config_flags.ts";
export {
  resolveConfig,
  type ResolveConfigOptions,
  type ResolvedConfig,
  zookeeperConnect,
} from "./src/config/resolve_config.ts";
export {
  channelOptions,
  type ConfiguredChannelOptions,
  type ConfiguredProviderOptions,
  type ConfiguredZooKeeperOptions,
  providerOptions,
  zookeeperOptions,
} from "./src/config/config_options.ts";
