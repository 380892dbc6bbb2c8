/**
 * An adapter that lets programs using Deno's standard logging API (`@std/log`) send their records
 * to an mprpc {@linkcode Logger} such as {@linkcode AsyncLogger}, without this package importing
 * anything from JSR: {@linkcode AsyncLoggerHandler} has the shape of std/log's `BaseHandler`.
 *
 * @module
 */

import { type LevelName, type LogFields, type Logger, LogLevels } from "./logger.ts";

/** The fields of a std/log `LogRecord` that the handler reads. */
export interface StdLogRecord {
  /** The message. */
  readonly msg: string;
  /** Extra arguments given to the std logger call (become fields). */
  readonly args: unknown[];
  /** When the record was made. */
  readonly datetime: Date;
  /** Numeric level (std/log's numbering, as {@linkcode LogLevels}). */
  readonly level: number;
  /** Level name, e.g. `"INFO"`. */
  readonly levelName: string;
  /** Name of the std logger that made the record. */
  readonly loggerName: string;
}

/** Options of {@linkcode AsyncLoggerHandler}. */
export interface AsyncLoggerHandlerOptions {
  /** Where records go, e.g. an {@linkcode AsyncLogger}. The handler does not own or close it. */
  logger: Logger;
  /**
   * Turns a record into the message text. Default: `record.msg` (the logger adds its own
   * timestamp and level, so std's default `"LEVEL msg"` would repeat the level).
   */
  formatter?: (record: StdLogRecord) => string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function levelNameOf(level: number): LevelName {
  if (level >= LogLevels.CRITICAL) return "CRITICAL";
  if (level >= LogLevels.ERROR) return "ERROR";
  if (level >= LogLevels.WARN) return "WARN";
  if (level >= LogLevels.INFO) return "INFO";
  if (level >= LogLevels.DEBUG) return "DEBUG";
  return "NOTSET";
}

/**
 * A std/log handler (same members as `BaseHandler`: `level`, `levelName`, `formatter`,
 * `handle`, `format`, `log`, `setup`, `destroy`) that forwards each record at or above its
 * level to `logger` at the record's level (NOTSET and DEBUG records go to `debug`).
 *
 * Fields: `logger=<loggerName>` unless the std logger is `"default"`; if the record's only
 * argument is a plain object its entries are added as fields, otherwise non-empty `args` become
 * `args=[...]`. The line's timestamp is the logger's clock, not `record.datetime`.
 *
 * std's `BaseHandler` has `#private` members, so TypeScript does not accept this class where a
 * `BaseHandler` is declared; at run time std/log only calls the members above. Pass it with a
 * cast (`handler as unknown as BaseHandler`). `destroy()` does not close the logger: its owner does.
 *
 * @example
 * ```ts
 * import { AsyncLogger } from "./async_logger.ts";
 * import { AsyncLoggerHandler } from "./std_handler.ts";
 * const dir = await Deno.makeTempDir();
 * await using logger = new AsyncLogger({ dir });
 * const handler = new AsyncLoggerHandler("INFO", { logger });
 * // With std/log: setup({ handlers: { mprpc: handler as unknown as BaseHandler }, ... })
 * handler.handle({
 *   msg: "hello", args: [{ user: "ann" }], datetime: new Date(),
 *   level: 20, levelName: "INFO", loggerName: "app",
 * }); // logger.info("hello", { logger: "app", user: "ann" })
 * ```
 */
export class AsyncLoggerHandler {
  #levelName: LevelName;
  #level: number;
  #logger: Logger;
  /** Turns a record into the message text (std/log's `formatter` member). */
  formatter: (record: StdLogRecord) => string;

  /** Creates a handler that passes records at `levelName` and above to `options.logger`. */
  constructor(levelName: LevelName, options: AsyncLoggerHandlerOptions) {
    if (!Object.hasOwn(LogLevels, levelName)) {
      throw new TypeError(`unknown log level ${JSON.stringify(levelName)}`);
    }
    this.#levelName = levelName;
    this.#level = LogLevels[levelName];
    this.#logger = options.logger;
    this.formatter = options.formatter ?? ((record) => record.msg);
  }

  /** The lowest level handled, as a number (std/log's `LogLevel`). */
  get level(): number {
    return this.#level;
  }
  set level(level: number) {
    this.#levelName = levelNameOf(level);
    this.#level = level;
  }

  /** The lowest level handled, as a name. */
  get levelName(): LevelName {
    return this.#levelName;
  }
  set levelName(name: LevelName) {
    if (!Object.hasOwn(LogLevels, name)) {
      throw new TypeError(`unknown log level ${JSON.stringify(name)}`);
    }
    this.#levelName = name;
    this.#level = LogLevels[name];
  }

  /** Forwards `record` to the logger at its level, if it is at or above this handler's level. */
  handle(record: StdLogRecord): void {
    if (record.level < this.#level) return;
    const msg = this.format(record);
    const fields: LogFields = {};
    let any = false;
    if (record.loggerName !== "default") {
      fields.logger = record.loggerName;
      any = true;
    }
    const args = record.args;
    if (args.length === 1 && isPlainObject(args[0])) {
      Object.assign(fields, args[0]);
      any = true;
    } else if (args.length > 0) {
      fields.args = args;
      any = true;
    }
    this.#emit(levelNameOf(record.level), msg, any ? fields : undefined);
  }

  /** Formats a record with {@linkcode AsyncLoggerHandler.formatter}. */
  format(record: StdLogRecord): string {
    return this.formatter(record);
  }

  /** Writes an already formatted message at this handler's level (INFO or higher). */
  log(msg: string): void {
    this.#emit(this.#level < LogLevels.INFO ? "INFO" : this.#levelName, msg, undefined);
  }

  /** Nothing to set up: the logger is ready when constructed. */
  setup(): void {}

  /** Nothing to release: the logger belongs to the caller, who closes it. */
  destroy(): void {}

  /** Same as {@linkcode AsyncLoggerHandler.destroy}. */
  [Symbol.dispose](): void {
    this.destroy();
  }

  #emit(level: LevelName, msg: string, fields: LogFields | undefined): void {
    const l = this.#logger;
    switch (level) {
      case "CRITICAL":
        return l.critical(msg, fields);
      case "ERROR":
        return l.error(msg, fields);
      case "WARN":
        return l.warn(msg, fields);
      case "INFO":
        return l.info(msg, fields);
      default:
        return l.debug(msg, fields);
    }
  }
}
