/**
 * Logging across a thread boundary (private to the toolkit): a Worker logs through a
 * {@linkcode PostingLogger}, whose calls travel by `postMessage` to the thread that owns the real
 * logger, which hands them on with {@linkcode deliverPostedLog}. Field values are made
 * structured-cloneable first, so no value can make the post throw or lose the line.
 *
 * @module
 */

import { formatFields, formatMessage, type LogFields, type Logger } from "./logger.ts";
import { printToStderr } from "./_stderr.ts";
import { cloneableFields } from "./_log_value.ts";

/** The level methods of a {@linkcode Logger}. */
export type LogMethod = "debug" | "info" | "warn" | "error" | "critical";

/** One log call as it crosses `postMessage`. */
export interface PostedLogLine {
  type: "log";
  level: LogMethod;
  msg: string;
  fields?: LogFields;
}

const METHODS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error", "critical"]);

/**
 * A {@linkcode Logger} that posts each call with `post` (e.g. a Worker's `self.postMessage`).
 * Never throws: if posting fails anyway, the line is posted again as plain text, and if that
 * fails too it is printed on stderr.
 *
 * @example
 * ```ts
 * import { deliverPostedLog, PostingLogger } from "./_posted_logger.ts";
 * import { ConsoleLogger } from "./logger.ts";
 * const main = new ConsoleLogger("ERROR");
 * const log = new PostingLogger((line) => deliverPostedLog(main, structuredClone(line)));
 * log.info("crosses", { fn: () => 1, id: 1n }); // no DataCloneError
 * ```
 */
export class PostingLogger implements Logger {
  #post: (line: PostedLogLine) => void;

  /** Creates a logger that sends its calls with `post`. */
  constructor(post: (line: PostedLogLine) => void) {
    this.#post = post;
  }

  /** Logs at DEBUG. */
  debug(msg: string, fields?: LogFields): void {
    this.#send("debug", msg, fields);
  }
  /** Logs at INFO. */
  info(msg: string, fields?: LogFields): void {
    this.#send("info", msg, fields);
  }
  /** Logs at WARN. */
  warn(msg: string, fields?: LogFields): void {
    this.#send("warn", msg, fields);
  }
  /** Logs at ERROR. */
  error(msg: string, fields?: LogFields): void {
    this.#send("error", msg, fields);
  }
  /** Logs at CRITICAL. */
  critical(msg: string, fields?: LogFields): void {
    this.#send("critical", msg, fields);
  }

  #send(level: LogMethod, msg: string, fields: LogFields | undefined): void {
    const text = formatMessage(msg);
    const line: PostedLogLine = { type: "log", level, msg: text };
    if (fields !== undefined && fields !== null) line.fields = cloneableFields(fields);
    try {
      this.#post(line);
      return;
    } catch {
      // Not expected (the fields are cloneable): fall back to text, which always clones.
    }
    const flat = fields === undefined ? "" : formatFields(fields);
    try {
      this.#post({ type: "log", level, msg: text + flat });
    } catch {
      printToStderr(`${level.toUpperCase()} ${text}${flat}`);
    }
  }
}

/** Whether `m` is a {@linkcode PostedLogLine} (messages may share a channel with others). */
export function isPostedLog(m: unknown): m is PostedLogLine {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "log" &&
    METHODS.has((m as { level?: unknown }).level as string);
}

/** Hands a posted line to `logger` at its level. */
export function deliverPostedLog(logger: Logger, line: PostedLogLine): void {
  logger[line.level](line.msg, line.fields);
}
