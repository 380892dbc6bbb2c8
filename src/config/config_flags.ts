/**
 * Command-line flags as a configuration layer, parsed by the runtime's `node:util` `parseArgs`
 * (strict: unknown flags are errors), and the `--help` text.
 *
 * @module
 */

import { errorMessage } from "../util/error_message.ts";
import { parseArgs as parseNodeArgs } from "node:util";
import { ConfigError } from "./config_error.ts";
import {
  assign,
  BY_FLAG,
  type ConfigOverrides,
  convertOrThrow,
  DEFAULT_CONFIG,
  KEYS,
  type MprpcConfig,
  spec,
} from "./config_keys.ts";

/** What {@linkcode parseArgs} found on the command line. */
export interface ParsedArgs {
  /** The file named by `-i <file>` or `--config <file>` (the last one given). */
  configFile?: string;
  /** The settings given by flags. */
  overrides: ConfigOverrides;
  /** Positional arguments, and everything after `--`. */
  rest: string[];
  /** Whether `-h` or `--help` was given. */
  help: boolean;
}

/** Options of {@linkcode parseArgs} and {@linkcode configUsage}. */
export interface FlagOptions {
  /**
   * The settings this program honours: only their flags are accepted (any other is an error)
   * and listed by {@linkcode configUsage}. Default: all of them. `--zk` comes with
   * `zookeeperIp`; `-i`/`--config` and `-h`/`--help` are always accepted.
   */
  fields?: readonly (keyof MprpcConfig)[];
}

/** The `node:util` option table for the accepted fields. */
function optionTable(fields: ReadonlySet<keyof MprpcConfig>) {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    config: { type: "string", short: "i" },
    help: { type: "boolean", short: "h" },
  };
  for (const s of KEYS) {
    if (!fields.has(s.field)) continue;
    if (s.kind === "bool") {
      options[s.flag.slice(2)] = { type: "boolean" };
      options[`no-${s.flag.slice(2)}`] = { type: "boolean" };
    } else {
      options[s.flag.slice(2)] = { type: "string" };
    }
  }
  if (fields.has("zookeeperIp")) options.zk = { type: "string" };
  return options;
}

/** `--legacy=no` → `--no-legacy` (node:util booleans take no value). */
function spellBooleans(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const m = /^--(no-)?legacy=(.*)$/s.exec(arg);
    if (m === null) {
      out.push(arg);
      continue;
    }
    const name = arg.slice(0, arg.indexOf("="));
    const v = convertOrThrow(spec("legacy"), m[2]!, { source: name }, name) as boolean;
    out.push(v !== (m[1] !== undefined) ? "--legacy" : "--no-legacy");
  }
  return out;
}

/** Turns a `node:util` parse error into a ConfigError naming the flag. */
function flagError(e: unknown, args: readonly string[]): ConfigError {
  const code = (e as { code?: string }).code;
  const message = errorMessage(e);
  const named = /'(-[^' ,]+)/.exec(message)?.[1] ?? "?";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const name = named.includes("=") ? named.slice(0, named.indexOf("=")) : named;
    const why = BY_FLAG.has(name) || name === "--zk" || name === "--no-legacy"
      ? `flag ${JSON.stringify(name)} is not used by this program`
      : `unknown flag ${JSON.stringify(name)}`;
    return new ConfigError(`${why} (see --help)`, { source: name, cause: e });
  }
  // "Option '-i, --config <value>' argument missing": name the spelling that was used.
  const spellings = /'(-\w), (--[\w-]+)/.exec(message);
  const name = spellings
    ? (args.includes(spellings[1]!) ? spellings[1]! : spellings[2]!)
    : named.replace(/ .*/, "");
  if (/does not take an argument/.test(message)) {
    return new ConfigError(`${name}: takes no value`, { source: name, cause: e });
  }
  if (/ambiguous/.test(message)) {
    return new ConfigError(
      `${name}: missing value (write ${name}=<value> for a value starting with "-")`,
      { source: name, cause: e },
    );
  }
  return new ConfigError(`${name}: missing value`, { source: name, cause: e });
}

/**
 * Parses command-line flags with the runtime's `node:util` `parseArgs`: `-i <file>` as in the
 * original (`provider -i test.conf`), `--config <file>`, one flag per key (`--host`, `--port`,
 * `--zk host:port`, ...; see {@linkcode configUsage}), `-h`/`--help`. `--flag value` and
 * `--flag=value` both work; `--legacy` takes no value (`--legacy=false` and `--no-legacy` turn
 * it off). Later flags win. Unknown flags, flags of settings the program does not honour (see
 * {@linkcode FlagOptions.fields}) and bad values throw a {@linkcode ConfigError} naming the flag.
 *
 * @example
 * ```ts
 * import { parseArgs } from "../../config.ts";
 * const { configFile, overrides } = parseArgs(["-i", "test.conf", "--port", "8001"]);
 * if (configFile !== "test.conf" || overrides.rpcServerPort !== 8001) throw new Error();
 * ```
 */
export function parseArgs(args: readonly string[], options: FlagOptions = {}): ParsedArgs {
  const fields = new Set(options.fields ?? KEYS.map((s) => s.field));
  const spelled = spellBooleans(args);
  let tokens;
  try {
    tokens = parseNodeArgs({
      args: spelled,
      options: optionTable(fields),
      strict: true,
      allowPositionals: true,
      tokens: true,
    }).tokens;
  } catch (e) {
    throw flagError(e, args);
  }
  const parsed: ParsedArgs = { overrides: {}, rest: [], help: false };
  const out = parsed.overrides as Record<string, unknown>;
  for (const t of tokens) {
    if (t.kind === "positional") {
      parsed.rest.push(t.value);
      continue;
    }
    if (t.kind !== "option") continue;
    const name = t.rawName;
    // `-i=test.conf` (getopt style) as well as `-itest.conf` and `-i test.conf`.
    const value = name === "-i" && t.inlineValue && t.value?.startsWith("=")
      ? t.value.slice(1)
      : t.value ?? "";
    const where = { source: name };
    if (t.name === "help") {
      parsed.help = true;
    } else if (t.name === "config") {
      if (value === "") throw new ConfigError(`${name}: empty file name`, where);
      parsed.configFile = value;
    } else if (t.name === "legacy" || t.name === "no-legacy") {
      out.legacy = t.name === "legacy";
    } else if (t.name === "zk") {
      if (value === "") {
        out.zookeeperIp = out.zookeeperPort = undefined;
        continue;
      }
      const colon = value.lastIndexOf(":");
      const ipv6Bare = value.indexOf(":") !== colon && !value.startsWith("[");
      if (colon === -1 || ipv6Bare) {
        throw new ConfigError(
          `${name}: ${JSON.stringify(value)} is not host:port (like 127.0.0.1:2181)`,
          where,
        );
      }
      out.zookeeperIp = convertOrThrow(spec("zookeeperip"), value.slice(0, colon), where, name);
      out.zookeeperPort = convertOrThrow(
        spec("zookeeperport"),
        value.slice(colon + 1),
        where,
        name,
      );
    } else {
      const s = BY_FLAG.get(`--${t.name}`)!;
      assign(out, s, convertOrThrow(s, value.trim(), where, name));
    }
  }
  return parsed;
}

/** One `--help` line per key: flag, file key and default. */
const USAGE: Record<keyof MprpcConfig, string> = {
  rpcServerIp:
    `  --host <ip>                         rpcserverip (default ${DEFAULT_CONFIG.rpcServerIp})`,
  rpcServerPort:
    `  --port <port>                       rpcserverport (default ${DEFAULT_CONFIG.rpcServerPort})`,
  zookeeperIp: "  --zk <host:port>                    zookeeperip and zookeeperport\n" +
    "  --zookeeper-ip <host>               zookeeperip (none: static registry)",
  zookeeperPort:
    "  --zookeeper-port <port>             zookeeperport (2181 when only the ip is set)",
  zookeeperRoot:
    `  --zookeeper-root <znode>            zookeeperroot (default ${DEFAULT_CONFIG.zookeeperRoot})`,
  sessionTimeoutMs:
    `  --session-timeout-ms <ms>           sessiontimeoutms (default ${DEFAULT_CONFIG.sessionTimeoutMs})`,
  zookeeperConnectTimeoutMs:
    `  --zookeeper-connect-timeout-ms <ms> zookeeperconnecttimeoutms (default ${DEFAULT_CONFIG.zookeeperConnectTimeoutMs})`,
  logDir: "  --log-dir <dir>                     logdir (default: stderr)",
  logLevel: "  --log-level <level>                 loglevel: NOTSET DEBUG INFO WARN ERROR CRITICAL",
  timeoutMs:
    `  --timeout-ms <ms>                   timeoutms, the call timeout (default ${DEFAULT_CONFIG.timeoutMs})`,
  maxMessageBytes:
    `  --max-message-bytes <n>             maxmessagebytes (default ${DEFAULT_CONFIG.maxMessageBytes})`,
  legacy: "  --legacy, --no-legacy               legacy: also speak the C++ mprpc protocol",
  workers: `  --workers <n>                       workers (default ${DEFAULT_CONFIG.workers})`,
  adminPort:
    "  --admin-port <port>                 adminport: metrics and console page (default off)",
};

/**
 * The flag list for `--help` output: the flags {@linkcode parseArgs} accepts with the same
 * `fields`.
 *
 * @example
 * ```ts
 * import { configUsage } from "../../config.ts";
 * const text = configUsage("caller", { fields: ["zookeeperIp", "zookeeperPort", "timeoutMs"] });
 * if (!text.includes("--timeout-ms") || text.includes("--workers")) throw new Error(text);
 * ```
 */
export function configUsage(program = "<program>", options: FlagOptions = {}): string {
  const fields = new Set(options.fields ?? KEYS.map((s) => s.field));
  return [
    `usage: ${program} [-i <file> | --config <file>] [flags] [args...]`,
    "  -i, --config <file>                 config file (key=value lines, # comments)",
    ...KEYS.filter((s) => fields.has(s.field)).map((s) => USAGE[s.field]),
    "  -h, --help                          this text",
    "Environment: MPRPC_<KEY> (e.g. MPRPC_RPCSERVERPORT) overrides the file; flags override both.",
  ].join("\n");
}
