/**
 * The configuration keys: the settings type, the defaults, and how each key's text is checked
 * and converted (private to the configuration; the types and defaults are exported from
 * config.ts).
 *
 * @module
 */

import {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
} from "../defaults.ts";
import { type LevelName, LogLevels } from "../log/logger.ts";
import { ConfigError, type ConfigErrorInit } from "./config_error.ts";

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
  /** `timeoutms`: the default call timeout (default `30000`). */
  timeoutMs: number;
  /** `maxmessagebytes`: the largest frame accepted or sent (default 4 MiB). */
  maxMessageBytes: number;
  /** `legacy`: also speak the original C++ mprpc protocol (default `false`). */
  legacy: boolean;
  /** `workers`: how many provider Workers to run (default `1`). */
  workers: number;
  /** `adminport`: the provider's admin HTTP listener (metrics, console page); absent = off. */
  adminPort?: number;
}

/**
 * The defaults, used for every key that no file, variable or flag sets.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG } from "../../config.ts";
 * if (DEFAULT_CONFIG.rpcServerPort !== 8000) throw new Error();
 * ```
 */
export const DEFAULT_CONFIG: Readonly<MprpcConfig> = Object.freeze({
  rpcServerIp: "127.0.0.1",
  rpcServerPort: 8000,
  zookeeperRoot: "/mprpc",
  sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
  zookeeperConnectTimeoutMs: DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
  logLevel: "INFO",
  timeoutMs: DEFAULT_TIMEOUT_MS,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  legacy: false,
  workers: 1,
});

/** The ZooKeeper port used when only `zookeeperip` is set. */
export const DEFAULT_ZOOKEEPER_PORT = 2181;
/** The ZooKeeper host used when only `zookeeperport` is set. */
export const DEFAULT_ZOOKEEPER_IP = "127.0.0.1";
/** The largest value `setTimeout` accepts, used as the bound of the millisecond keys. */
const MAX_INT = 2147483647;

type Kind = "host" | "port" | "int" | "level" | "bool" | "text" | "znode";

export interface KeySpec {
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

export const KEYS: readonly KeySpec[] = [
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
  key("adminport", "adminPort", "port", "--admin-port", { optional: true }),
];
export const BY_KEY = new Map(KEYS.map((s) => [s.key, s]));
export const BY_FLAG = new Map(KEYS.map((s) => [s.flag, s]));
export const spec = (key: string): KeySpec => BY_KEY.get(key)!;

/** Validates one raw value; returns the typed value, `undefined` (unset) or an error text. */
export function convert(s: KeySpec, raw: string): { value: unknown } | { problem: string } {
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
export function convertOrThrow(
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
export function assign(out: Record<string, unknown>, s: KeySpec, value: unknown): void {
  out[s.field] = value;
  if (s.key === "zookeeperip" && value === undefined) out.zookeeperPort = undefined;
}

/** A partial config holding only the keys one layer (file, env, flags) set. */
export type ConfigOverrides = { -readonly [K in keyof MprpcConfig]?: MprpcConfig[K] };

/** Applies `layers` over the defaults, drops unset keys, fills a missing ZooKeeper host/port half. */
export function finish(layers: ConfigOverrides[]): MprpcConfig {
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
