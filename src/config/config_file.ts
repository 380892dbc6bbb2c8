/**
 * The original mprpc `key=value` config file: parsing text and reading files.
 *
 * @module
 */

import { ConfigError } from "./config_error.ts";
import {
  assign,
  BY_KEY,
  type ConfigOverrides,
  convertOrThrow,
  finish,
  type MprpcConfig,
} from "./config_keys.ts";

/** Options of {@linkcode parseConfig} and {@linkcode loadConfig}. */
export interface ParseConfigOptions {
  /** Called with each warning (unknown or repeated key) as it is found. */
  onWarning?: (warning: string) => void;
}

/** Parses file text into the keys it sets (no defaults). */
export function parseLayer(
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

/**
 * Parses config file text in the original mprpc format: `key=value` lines, `#` comments (whole
 * line or trailing), spaces trimmed, blank lines ignored, CRLF accepted. Unknown keys are
 * warnings; malformed lines and bad values throw a {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../../config.ts";
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
export async function readConfigText(path: string, shown = path): Promise<string> {
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
 * import { loadConfig } from "../../config.ts";
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
