/**
 * Configuration: the original mprpc `key=value` file (`provider -i test.conf`), environment
 * overrides (`MPRPC_<KEY>`) and command-line flags, merged in the order
 * defaults < file < environment < flags. See docs/config.md.
 *
 * @module
 */

import { type LevelName, LogLevels } from "./log/logger.ts";

/** The settings of a provider or caller, after defaults and overrides are merged. */
export interface MprpcConfig {
  /** `rpcserverip`: the address the provider listens on and announces (default `"127.0.0.1"`). */
  rpcServerIp: string;
  /** `rpcserverport`: the provider's TCP port (default `8000`). */
  rpcServerPort: number;
  /** `zookeeperip`: the ZooKeeper host; absent (with the port) means no ZooKeeper. */
  zookeeperIp?: string;
  /** `zookeeperport`: the ZooKeeper port; absent (with the host) means no ZooKeeper. */
  zookeeperPort?: number;
  /** `zookeeperroot`: the znode under which services are registered (default `"/mprpc"`). */
  zookeeperRoot: string;
  /** `sessiontimeoutms`: the ZooKeeper session timeout (default `30000`). */
  sessionTimeoutMs: number;
  /** `zookeeperconnecttimeoutms`: how long to wait for the first ZooKeeper session (default `10000`). */
  zookeeperConnectTimeoutMs: number;
  /** `logdir`: a directory for log files; absent means log to stderr. */
  logDir?: string;
  /** `loglevel`: the lowest level logged (default `"INFO"`). */
  logLevel: LevelName;
  /** `timeoutms`: the default call timeout (default `5000`). */
  timeoutMs: number;
  /** `maxmessagebytes`: the largest frame accepted or sent (default 4 MiB). */
  maxMessageBytes: number;
  /** `legacy`: also speak the original C++ mprpc protocol (default `false`). */
  legacy: boolean;
  /** `workers`: how many provider Workers to run (default `1`). */
  workers: number;
}

/**
 * The defaults, used for every key that no file, variable or flag sets.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG } from "./config.ts";
 * if (DEFAULT_CONFIG.rpcServerPort !== 8000) throw new Error();
 * ```
 */
export const DEFAULT_CONFIG: Readonly<MprpcConfig> = Object.freeze({
  rpcServerIp: "127.0.0.1",
  rpcServerPort: 8000,
  zookeeperRoot: "/mprpc",
  sessionTimeoutMs: 30000,
  zookeeperConnectTimeoutMs: 10000,
  logLevel: "INFO",
  timeoutMs: 5000,
  maxMessageBytes: 4 * 1024 * 1024,
  legacy: false,
  workers: 1,
});

/** The ZooKeeper port used when only `zookeeperip` is set. */
const DEFAULT_ZOOKEEPER_PORT = 2181;
/** The ZooKeeper host used when only `zookeeperport` is set. */
const DEFAULT_ZOOKEEPER_IP = "127.0.0.1";
/** The largest value `setTimeout` accepts, used as the bound of the millisecond keys. */
const MAX_INT = 2147483647;

type Kind = "host" | "port" | "int" | "level" | "bool" | "text" | "znode";

interface KeySpec {
  key: string;
  field: keyof MprpcConfig;
  kind: Kind;
  flag: string;
  optional?: boolean;
  min?: number;
  max?: number;
}

const key = (
  key: string,
  field: keyof MprpcConfig,
  kind: Kind,
  flag: string,
  more: Partial<KeySpec> = {},
): KeySpec => ({ key, field, kind, flag, ...more });
const ms = { min: 1, max: MAX_INT };

const KEYS: readonly KeySpec[] = [
  key("rpcserverip", "rpcServerIp", "host", "--host"),
  key("rpcserverport", "rpcServerPort", "port", "--port"),
  key("zookeeperip", "zookeeperIp", "host", "--zookeeper-ip", { optional: true }),
  key("zookeeperport", "zookeeperPort", "port", "--zookeeper-port", { optional: true }),
  key("zookeeperroot", "zookeeperRoot", "znode", "--zookeeper-root"),
  key("sessiontimeoutms", "sessionTimeoutMs", "int", "--session-timeout-ms", ms),
  key(
    "zookeeperconnecttimeoutms",
    "zookeeperConnectTimeoutMs",
    "int",
    "--zookeeper-connect-timeout-ms",
    ms,
  ),
  key("logdir", "logDir", "text", "--log-dir", { optional: true }),
  key("loglevel", "logLevel", "level", "--log-level"),
  key("timeoutms", "timeoutMs", "int", "--timeout-ms", ms),
  key("maxmessagebytes", "maxMessageBytes", "int", "--max-message-bytes", ms),
  key("legacy", "legacy", "bool", "--legacy"),
  key("workers", "workers", "int", "--workers", { min: 1, max: 1024 }),
];
const BY_KEY = new Map(KEYS.map((s) => [s.key, s]));
const BY_FLAG = new Map(KEYS.map((s) => [s.flag, s]));
const spec = (key: string): KeySpec => BY_KEY.get(key)!;

/** Where a {@linkcode ConfigError} was found. */
export interface ConfigErrorInit {
  /** The file path, environment variable or flag the bad setting came from. */
  source: string;
  /** The config file, when the error is in (or about) a file. */
  file?: string;
  /** The 1-based line number in `file`. */
  line?: number;
  /** The config key (lowercase file spelling) the bad value was for. */
  key?: string;
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * A malformed line, a bad value, an unknown flag or an unreadable file. The message says where
 * (`file:line`, variable or flag), which key and what was wrong with which value.
 *
 * @example
 * ```ts
 * import { ConfigError, parseConfig } from "./config.ts";
 * try {
 *   parseConfig("rpcserverport=70000\n", "test.conf");
 * } catch (e) {
 *   if (!(e instanceof ConfigError) || e.line !== 1) throw e;
 *   // e.message: test.conf:1: rpcserverport: "70000" is not a port (1..65535)
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The file path, environment variable or flag the bad setting came from. */
  readonly source: string;
  /** The config file, when the error is in (or about) a file. */
  readonly file: string | undefined;
  /** The 1-based line number in `file`, if the error is on a line. */
  readonly line: number | undefined;
  /** The config key concerned, if any. */
  readonly key: string | undefined;
  /** Creates the error; `message` is the full text. */
  constructor(message: string, init: ConfigErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ConfigError";
    this.source = init.source;
    this.file = init.file;
    this.line = init.line;
    this.key = init.key;
  }
}

/** Validates one raw value; returns the typed value, `undefined` (unset) or an error text. */
function convert(s: KeySpec, raw: string): { value: unknown } | { problem: string } {
  const quoted = JSON.stringify(raw);
  if (raw === "") {
    return s.optional ? { value: undefined } : { problem: "empty value" };
  }
  switch (s.kind) {
    case "host": {
      const host = raw.startsWith("[") && raw.endsWith("]") ? raw.slice(1, -1) : raw;
      const ipv4 = /^\d+(\.\d+){3}$/.test(host);
      const ok = host.includes(":")
        ? /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host)
        : ipv4
        ? host.split(".").every((o) => Number(o) <= 255)
        : /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(host);
      return ok ? { value: host } : { problem: `${quoted} is not a host name or IP address` };
    }
    case "port": {
      const n = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
      return n >= 1 && n <= 65535
        ? { value: n }
        : { problem: `${quoted} is not a port (1..65535)` };
    }
    case "int": {
      const n = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
      return n >= s.min! && n <= s.max!
        ? { value: n }
        : { problem: `${quoted} is not an integer in ${s.min}..${s.max}` };
    }
    case "level": {
      const level = raw.toUpperCase();
      return Object.hasOwn(LogLevels, level) ? { value: level } : {
        problem: `${quoted} is not a log level (${Object.keys(LogLevels).join(", ")})`,
      };
    }
    case "bool": {
      const v = raw.toLowerCase();
      if (["true", "yes", "on", "1"].includes(v)) return { value: true };
      if (["false", "no", "off", "0"].includes(v)) return { value: false };
      return { problem: `${quoted} is not a boolean (true/false, yes/no, on/off, 1/0)` };
    }
    case "znode": {
      const ok = raw === "/" ||
        (/^\/[^\0]*[^/]$/.test(raw) &&
          raw.split("/").slice(1).every((p) => p !== "" && p !== "." && p !== ".."));
      return ok
        ? { value: raw }
        : { problem: `${quoted} is not an absolute znode path (like "/mprpc")` };
    }
    case "text":
      return { value: raw };
  }
}

/** Converts `raw` for `s`, throwing a ConfigError located at `where`. */
function convertOrThrow(
  s: KeySpec,
  raw: string,
  where: Omit<ConfigErrorInit, "key">,
  prefix: string,
): unknown {
  const r = convert(s, raw);
  if ("problem" in r) {
    throw new ConfigError(`${prefix}: ${s.key}: ${r.problem}`, { ...where, key: s.key });
  }
  return r.value;
}

/** Stores a converted value; an empty (unset) `zookeeperip` also unsets the port: no ZooKeeper. */
function assign(out: Record<string, unknown>, s: KeySpec, value: unknown): void {
  out[s.field] = value;
  if (s.key === "zookeeperip" && value === undefined) out.zookeeperPort = undefined;
}

/** A partial config holding only the keys one layer (file, env, flags) set. */
export type ConfigOverrides = { -readonly [K in keyof MprpcConfig]?: MprpcConfig[K] };

/** Options of {@linkcode parseConfig} and {@linkcode loadConfig}. */
export interface ParseConfigOptions {
  /** Called with each warning (unknown or repeated key) as it is found. */
  onWarning?: (warning: string) => void;
}

/** Parses file text into the keys it sets (no defaults). */
function parseLayer(
  text: string,
  source: string,
  warnings: string[],
  onWarning?: (w: string) => void,
): ConfigOverrides {
  const out: Record<string, unknown> = {};
  const seen = new Map<string, number>();
  const warn = (w: string) => {
    warnings.push(w);
    onWarning?.(w);
  };
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n|\r/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const at = `${source}:${lineNo}`;
    const hash = lines[i]!.indexOf("#");
    const line = (hash === -1 ? lines[i]! : lines[i]!.slice(0, hash)).trim();
    if (line === "") continue;
    const where = { source, file: source, line: lineNo };
    const eq = line.indexOf("=");
    if (eq === -1) {
      throw new ConfigError(`${at}: missing "=" in ${JSON.stringify(line)}`, where);
    }
    const key = line.slice(0, eq).trim().toLowerCase();
    const raw = line.slice(eq + 1).trim();
    if (key === "") {
      throw new ConfigError(`${at}: empty key before "=" in ${JSON.stringify(line)}`, where);
    }
    const s = BY_KEY.get(key);
    if (s === undefined) {
      warn(`${at}: unknown key ${JSON.stringify(key)} ignored (value ${JSON.stringify(raw)})`);
      continue;
    }
    const before = seen.get(key);
    if (before !== undefined) warn(`${at}: ${key} repeated (line ${before}); the last one wins`);
    seen.set(key, lineNo);
    assign(out, s, convertOrThrow(s, raw, where, at));
  }
  return out as ConfigOverrides;
}

/** Applies `layers` over the defaults, drops unset keys, fills a missing ZooKeeper host/port half. */
function finish(layers: ConfigOverrides[]): MprpcConfig {
  const config = { ...DEFAULT_CONFIG } as MprpcConfig;
  for (const layer of layers) {
    for (const [field, value] of Object.entries(layer)) {
      (config as unknown as Record<string, unknown>)[field] = value;
    }
  }
  for (const [field, value] of Object.entries(config)) {
    if (value === undefined) delete (config as unknown as Record<string, unknown>)[field];
  }
  if (config.zookeeperIp !== undefined && config.zookeeperPort === undefined) {
    config.zookeeperPort = DEFAULT_ZOOKEEPER_PORT;
  } else if (config.zookeeperPort !== undefined && config.zookeeperIp === undefined) {
    config.zookeeperIp = DEFAULT_ZOOKEEPER_IP;
  }
  return config;
}

/**
 * Parses config file text in the original mprpc format: `key=value` lines, `#` comments (whole
 * line or trailing), spaces trimmed, blank lines ignored, CRLF accepted. Unknown keys are
 * warnings; malformed lines and bad values throw a {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const { config, warnings } = parseConfig("rpcserverip=127.0.0.1\nrpcserverport=8001\n");
 * if (config.rpcServerPort !== 8001 || warnings.length !== 0) throw new Error();
 * ```
 */
export function parseConfig(
  text: string,
  source = "<string>",
  options: ParseConfigOptions = {},
): { config: MprpcConfig; warnings: string[] } {
  const warnings: string[] = [];
  const layer = parseLayer(text, source, warnings, options.onWarning);
  return { config: finish([layer]), warnings };
}

/** Reads a file as text, turning failures into a ConfigError naming the path. */
async function readConfigText(path: string, shown = path): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable
      ? "read permission denied (run with --allow-read)"
      : e instanceof Deno.errors.IsADirectory
      ? "it is a directory"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new ConfigError(`cannot read config file ${JSON.stringify(shown)}: ${why}`, {
      source: shown,
      file: shown,
      cause: e,
    });
  }
}

/**
 * Reads and parses a config file (see {@linkcode parseConfig}); errors name `path`.
 *
 * @example
 * ```ts ignore
 * import { loadConfig } from "./config.ts";
 * const config = await loadConfig("examples/user/test.conf");
 * console.log(config.rpcServerPort); // 8000
 * ```
 */
export async function loadConfig(
  path: string,
  options: ParseConfigOptions = {},
): Promise<MprpcConfig> {
  return parseConfig(await readConfigText(path), path, options).config;
}

/** The environment variable that overrides `key`: `MPRPC_` + the key in uppercase. */
const envName = (key: string) => `MPRPC_${key.toUpperCase()}`;

/** Reads the MPRPC_ variables that the process is allowed to read, never prompting. */
function readProcessEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  if (Deno.permissions.querySync({ name: "env" }).state === "granted") {
    for (const [name, value] of Object.entries(Deno.env.toObject())) {
      if (name.startsWith("MPRPC_")) env[name] = value;
    }
    return env;
  }
  for (const s of KEYS) {
    const variable = envName(s.key);
    if (Deno.permissions.querySync({ name: "env", variable }).state === "granted") {
      env[variable] = Deno.env.get(variable);
    }
  }
  return env;
}

/**
 * The overrides set by `MPRPC_<KEY>` variables (`MPRPC_RPCSERVERPORT=8001`), validated like
 * file values; errors name the variable. An `MPRPC_` variable that is no key is a warning.
 * Without `env`, reads `Deno.env` for the variables the process has permission for, and skips
 * the others without prompting.
 *
 * @example
 * ```ts
 * import { envOverrides } from "./config.ts";
 * const o = envOverrides({ MPRPC_RPCSERVERPORT: "8001" });
 * if (o.rpcServerPort !== 8001) throw new Error();
 * ```
 */
export function envOverrides(
  env?: Record<string, string | undefined>,
  options: ParseConfigOptions = {},
): ConfigOverrides {
  const vars = env ?? readProcessEnv();
  const out: Record<string, unknown> = {};
  for (const s of KEYS) {
    const variable = envName(s.key);
    const raw = vars[variable];
    if (raw === undefined) continue;
    assign(out, s, convertOrThrow(s, raw.trim(), { source: variable }, variable));
  }
  for (const name of Object.keys(vars)) {
    if (name.startsWith("MPRPC_") && !BY_KEY.has(name.slice(6).toLowerCase())) {
      options.onWarning?.(`environment: unknown variable ${name} ignored`);
    }
  }
  return out as ConfigOverrides;
}

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

/**
 * Parses command-line flags: `-i <file>` as in the original (`provider -i test.conf`),
 * `--config <file>`, one flag per key (`--host`, `--port`, `--zk host:port`, ...; see
 * {@linkcode configUsage}), `-h`/`--help`. `--flag value` and `--flag=value` both work;
 * `--legacy` takes no value (`--legacy=false` and `--no-legacy` turn it off). Unknown flags and
 * bad values throw a {@linkcode ConfigError} naming the flag.
 *
 * @example
 * ```ts
 * import { parseArgs } from "./config.ts";
 * const { configFile, overrides } = parseArgs(["-i", "test.conf", "--port", "8001"]);
 * if (configFile !== "test.conf" || overrides.rpcServerPort !== 8001) throw new Error();
 * ```
 */
export function parseArgs(args: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { overrides: {}, rest: [], help: false };
  const out = parsed.overrides as Record<string, unknown>;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      parsed.rest.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      parsed.rest.push(arg);
      continue;
    }
    if (arg === "-h" || arg === "--help") {
      parsed.help = true;
      continue;
    }
    let name = arg;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.includes("=")) {
      name = arg.slice(0, arg.indexOf("="));
      inline = arg.slice(arg.indexOf("=") + 1);
    } else if (arg.startsWith("-i") && arg.length > 2 && arg[2] !== "-") {
      name = "-i"; // getopt style: -itest.conf or -i=test.conf
      inline = arg.slice(arg[2] === "=" ? 3 : 2);
    }
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = args[i + 1];
      if (next === undefined) {
        throw new ConfigError(`${name}: missing value`, { source: name });
      }
      i++;
      return next;
    };
    if (name === "-i" || name === "--config") {
      const file = value();
      if (file === "") throw new ConfigError(`${name}: empty file name`, { source: name });
      parsed.configFile = file;
    } else if (name === "--legacy" || name === "--no-legacy") {
      const s = spec("legacy");
      const v = inline === undefined ? true : convertOrThrow(s, inline, { source: name }, name);
      out.legacy = name === "--legacy" ? v : !v;
    } else if (name === "--zk") {
      const raw = value();
      const where = { source: name };
      if (raw === "") {
        out.zookeeperIp = out.zookeeperPort = undefined;
        continue;
      }
      const colon = raw.lastIndexOf(":");
      const ipv6Bare = raw.indexOf(":") !== colon && !raw.startsWith("[");
      if (colon === -1 || ipv6Bare) {
        throw new ConfigError(
          `${name}: ${JSON.stringify(raw)} is not host:port (like 127.0.0.1:2181)`,
          where,
        );
      }
      out.zookeeperIp = convertOrThrow(spec("zookeeperip"), raw.slice(0, colon), where, name);
      out.zookeeperPort = convertOrThrow(spec("zookeeperport"), raw.slice(colon + 1), where, name);
    } else {
      const s = BY_FLAG.get(name);
      if (s === undefined) {
        throw new ConfigError(`unknown flag ${JSON.stringify(name)} (see --help)`, {
          source: name,
        });
      }
      assign(out, s, convertOrThrow(s, value().trim(), { source: name }, name));
    }
  }
  return parsed;
}

/**
 * The flag list for `--help` output.
 *
 * @example
 * ```ts
 * import { configUsage } from "./config.ts";
 * console.log(configUsage("provider"));
 * ```
 */
export function configUsage(program = "<program>"): string {
  return [
    `usage: ${program} [-i <file> | --config <file>] [flags] [args...]`,
    "  -i, --config <file>                 config file (key=value lines, # comments)",
    "  --host <ip>                         rpcserverip (default 127.0.0.1)",
    "  --port <port>                       rpcserverport (default 8000)",
    "  --zk <host:port>                    zookeeperip and zookeeperport",
    "  --zookeeper-ip <host>               zookeeperip (none: static registry)",
    "  --zookeeper-port <port>             zookeeperport (2181 when only the ip is set)",
    "  --zookeeper-root <znode>            zookeeperroot (default /mprpc)",
    "  --session-timeout-ms <ms>           sessiontimeoutms (default 30000)",
    "  --zookeeper-connect-timeout-ms <ms> zookeeperconnecttimeoutms (default 10000)",
    "  --log-dir <dir>                     logdir (default: stderr)",
    "  --log-level <level>                 loglevel: NOTSET DEBUG INFO WARN ERROR CRITICAL",
    "  --timeout-ms <ms>                   timeoutms, the call timeout (default 5000)",
    "  --max-message-bytes <n>             maxmessagebytes (default 4194304)",
    "  --legacy, --no-legacy               legacy: also speak the C++ mprpc protocol",
    "  --workers <n>                       workers (default 1)",
    "  -h, --help                          this text",
    "Environment: MPRPC_<KEY> (e.g. MPRPC_RPCSERVERPORT) overrides the file; flags override both.",
  ].join("\n");
}

/** Options of {@linkcode resolveConfig}. */
export interface ResolveConfigOptions extends ParseConfigOptions {
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
 * import { configUsage, resolveConfig } from "./config.ts";
 * const { config, warnings, help } = await resolveConfig(); // provider -i test.conf
 * if (help) console.log(configUsage("provider"));
 * for (const w of warnings) console.error(w);
 * ```
 */
export async function resolveConfig(options: ResolveConfigOptions = {}): Promise<ResolvedConfig> {
  const args = parseArgs(options.args ?? Deno.args);
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
 * import { DEFAULT_CONFIG, zookeeperConnect } from "./config.ts";
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
