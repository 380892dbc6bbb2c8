/**
 * `MPRPC_<KEY>` environment variables as a configuration layer.
 *
 * @module
 */

import { assign, BY_KEY, type ConfigOverrides, convertOrThrow, KEYS } from "./config_keys.ts";
import type { ParseConfigOptions } from "./config_file.ts";

/** The environment variable that overrides `key`: `MPRPC_` + the key in uppercase. */
export const envName = (key: string) => `MPRPC_${key.toUpperCase()}`;

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
 * import { envOverrides } from "../../config.ts";
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
