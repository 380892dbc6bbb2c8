/**
 * The logging interface that the provider, the channel and the registries log through, and a
 * small console implementation used when no logger is given.
 *
 * @module
 */

import { asFields, formatText, formatValue, unreadable } from "./_log_value.ts";
import { printToStderr } from "./_stderr.ts";
import type { LogFields } from "./log_fields.ts";

/** Level names, following the usual Deno (std/log) convention. */
export type LevelName = "NOTSET" | "DEBUG" | "INFO" | "WARN" | "ERROR" | "CRITICAL";

/**
 * Level numbers, as in std/log: NOTSET 0, DEBUG 10, INFO 20, WARN 30, ERROR 40, CRITICAL 50.
 *
 * @example
 * ```ts
 * import { LogLevels } from "./logger.ts";
 * if (!(LogLevels.WARN > LogLevels.INFO)) throw new Error();
 * ```
 */
export const LogLevels: Readonly<Record<LevelName, number>> = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  WARN: 30,
  ERROR: 40,
  CRITICAL: 50,
};

export type { LogFields };

/**
 * What the toolkit needs from a logger. {@linkcode AsyncLogger} implements it; so can any
 * object with these five methods.
 */
export interface Logger {
  /** Detail for debugging (per-connection events). */
  debug(msg: string, fields?: LogFields): void;
  /** Normal operation (listening, registrations). */
  info(msg: string, fields?: LogFields): void;
  /** Something went wrong and was handled (bad input, slow calls, retries). */
  warn(msg: string, fields?: LogFields): void;
  /** Something failed (a handler threw, a registration failed). */
  error(msg: string, fields?: LogFields): void;
  /** The process cannot go on as intended. */
  critical(msg: string, fields?: LogFields): void;
}

/**
 * Formats fields as ` key=value` pairs: strings bare, or JSON-quoted when they hold spaces,
 * quotes or `=`; numbers, booleans and bigints as text; Errors (with cause and stack), cycles and
 * other values that JSON cannot hold are rendered too. Never throws.
 */
export function formatFields(fields: LogFields | undefined): string {
  fields = asFields(fields);
  if (fields === undefined) return "";
  let out = "";
  try {
    for (const key in fields) {
      let v: unknown;
      try {
        v = fields[key];
      } catch (err) {
        v = unreadable(err);
      }
      let s: string;
      if (typeof v === "string") s = /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
      else if (typeof v === "number") s = String(v);
      else s = formatValue(v);
      out += ` ${key}=${s}`;
    }
  } catch (err) {
    out += ` fields=${formatValue(unreadable(err))}`;
  }
  return out;
}

/** Text of a log message given as something else than a string (JavaScript callers). */
export function formatMessage(msg: unknown): string {
  return typeof msg === "string" ? msg : formatText(msg);
}

/** Lowest level a {@linkcode ConsoleLogger} prints when no level is given. */
export const DEFAULT_CONSOLE_LEVEL: LevelName = "WARN";

/**
 * A synchronous logger that writes lines at or above `level` to stderr. A log call never throws
 * (see {@linkcode formatFields} for how values are written). The default logger of
 * the provider, channel and registries (level {@linkcode DEFAULT_CONSOLE_LEVEL}), so errors are
 * never silent.
 *
 * @example
 * ```ts
 * import { ConsoleLogger } from "./logger.ts";
 * const log = new ConsoleLogger("ERROR");
 * log.warn("not printed"); // below ERROR
 * ```
 */
export class ConsoleLogger implements Logger {
  #threshold: number;
  /** Creates a logger that prints lines at `level` and above. */
  constructor(level: LevelName = DEFAULT_CONSOLE_LEVEL) {
    this.#threshold = LogLevels[level];
  }
  #log(level: LevelName, msg: string, fields?: LogFields): void {
    if (LogLevels[level] < this.#threshold) return;
    const line = `${new Date().toISOString()} ${level} ${formatMessage(msg)}${
      formatFields(fields)
    }`;
    printToStderr(line);
  }
  /** Logs at DEBUG. */
  debug(msg: string, fields?: LogFields): void {
    this.#log("DEBUG", msg, fields);
  }
  /** Logs at INFO. */
  info(msg: string, fields?: LogFields): void {
    this.#log("INFO", msg, fields);
  }
  /** Logs at WARN. */
  warn(msg: string, fields?: LogFields): void {
    this.#log("WARN", msg, fields);
  }
  /** Logs at ERROR. */
  error(msg: string, fields?: LogFields): void {
    this.#log("ERROR", msg, fields);
  }
  /** Logs at CRITICAL. */
  critical(msg: string, fields?: LogFields): void {
    this.#log("CRITICAL", msg, fields);
  }
}
