/**
 * The error of every configuration problem (private to the configuration; exported from
 * config.ts).
 *
 * @module
 */

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
 * import { ConfigError, parseConfig } from "../../config.ts";
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
