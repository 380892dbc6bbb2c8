/**
 * The one call a program makes: flags, the config file and `MPRPC_` variables merged over the
 * defaults; and the ZooKeeper connection string of a configuration.
 *
 * @module
 */

import { envOverrides } from "./config_env.ts";
import { type ParseConfigOptions, parseLayer, readConfigText } from "./config_file.ts";
import { type FlagOptions, parseArgs } from "./config_flags.ts";
import {
  type ConfigOverrides,
  DEFAULT_ZOOKEEPER_IP,
  DEFAULT_ZOOKEEPER_PORT,
  finish,
  type MprpcConfig,
} from "./config_keys.ts";

/** Options of {@linkcode resolveConfig}. */
export interface ResolveConfigOptions extends ParseConfigOptions, FlagOptions {
  /** The command line (default `Deno.args`). */
  args?: readonly string[];
  /** The environment (default: the `MPRPC_` variables of `Deno.env` that may be read). */
  env?: Record<string, string | undefined>;
  /** The directory a relative config file is resolved against (default: the process's). */
  cwd?: string;
}

/** The result of {@linkcode resolveConfig}. */
export interface ResolvedConfig {
  /** The merged settings. */
  config: MprpcConfig;
  /** Warnings: unknown or repeated keys in the file, unknown `MPRPC_` variables. */
  warnings: string[];
  /** The config file that was read, as given on the command line. */
  configFile?: string;
  /** Positional arguments left for the program. */
  rest: string[];
  /** Whether `-h`/`--help` was given (the config file is then not read). */
  help: boolean;
}

/**
 * The one call a program makes: parses `args`, reads the `-i`/`--config` file, applies
 * `MPRPC_` variables and flags (defaults < file < env < flags).
 *
 * @example
 * ```ts ignore
 * import { configUsage, resolveConfig } from "../../config.ts";
 * const { config, warnings, help } = await resolveConfig(); // provider -i test.conf
 * if (help) console.log(configUsage("provider"));
 * for (const w of warnings) console.error(w);
 * ```
 */
export async function resolveConfig(options: ResolveConfigOptions = {}): Promise<ResolvedConfig> {
  const args = parseArgs(options.args ?? Deno.args, options);
  const warnings: string[] = [];
  const layers: ConfigOverrides[] = [];
  if (args.configFile !== undefined && !args.help) {
    const path = resolvePath(args.configFile, options.cwd);
    const text = await readConfigText(path, args.configFile);
    layers.push(parseLayer(text, args.configFile, warnings, options.onWarning));
  }
  const onWarning = (w: string) => {
    warnings.push(w);
    options.onWarning?.(w);
  };
  layers.push(envOverrides(options.env, { onWarning }), args.overrides);
  return {
    config: finish(layers),
    warnings,
    ...(args.configFile === undefined ? {} : { configFile: args.configFile }),
    rest: args.rest,
    help: args.help,
  };
}

/** Joins a relative `path` to `cwd` (POSIX or Windows); absolute paths are kept. */
function resolvePath(path: string, cwd: string | undefined): string {
  if (cwd === undefined || /^([\\/]|[A-Za-z]:[\\/])/.test(path)) return path;
  return `${cwd.replace(/[\\/]+$/, "")}/${path}`;
}

/**
 * The ZooKeeper connection string (`"ip:port"`), or `undefined` when neither `zookeeperIp` nor
 * `zookeeperPort` is set (use the static registry). A missing half defaults to 127.0.0.1/2181.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG, zookeeperConnect } from "../../config.ts";
 * const c = { ...DEFAULT_CONFIG, zookeeperIp: "127.0.0.1", zookeeperPort: 2181 };
 * if (zookeeperConnect(c) !== "127.0.0.1:2181") throw new Error();
 * ```
 */
export function zookeeperConnect(
  config: Pick<MprpcConfig, "zookeeperIp" | "zookeeperPort">,
): string | undefined {
  const { zookeeperIp: ip, zookeeperPort: port } = config;
  if (ip === undefined && port === undefined) return undefined;
  const host = ip ?? DEFAULT_ZOOKEEPER_IP;
  return `${host.includes(":") ? `[${host}]` : host}:${port ?? DEFAULT_ZOOKEEPER_PORT}`;
}
