/**
 * An adapter that lets programs using Deno's standard logging API (`@std/log`) send their records
 * to an mprpc {@linkcode Logger} such as {@linkcode AsyncLogger}, without this package importing
 * anything from JSR: {@linkcode AsyncLoggerHandler} has the shape of std/log's `BaseHandler`.
 *
 * @module
 */

import { formatMessage, type LevelName, type LogFields, type Logger, LogLevels } from "./logger.ts";
import { printToStderr } from "./_stderr.ts";
import { formatValue, unreadable } from "./_log_value.ts";

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
   *
   * Declared as a method so that std/log's own formatters (`jsonFormatter`, typed
   * `(logRecord: LogRecord) => string` with std's `LogRecord` class) are accepted without a cast.
   * A formatter that throws does not fail the log call: the record's `msg` is written instead,
   * with a `formatterError` field.
   */
  formatter?(record: StdLogRecord): string;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Copies a plain object's entries into `fields`; an entry whose getter throws is written as such. */
function spread(fields: LogFields, obj: Record<string, unknown>): void {
  for (const key of Object.keys(obj)) {
    let v: unknown;
    try {
      v = obj[key];
    } catch (err) {
      v = unreadable(err);
    }
    // defineProperty: an own "__proto__" key (JSON.parse makes those) stays a plain field.
    Object.defineProperty(fields, key, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

/** Last resort when the logger itself threw: say so on stderr rather than fail the log call. */
function reportLost(err: unknown): void {
  printToStderr(`AsyncLoggerHandler: a log record was lost: ${formatValue(err)}`);
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
 * std's formatters (`jsonFormatter`, typed with std's `LogRecord` class) can be passed as
 * `formatter` without a cast. One cast remains, where the handler is given to std: `BaseHandler`
 * has `#private` members, so TypeScript accepts only instances of that class where a
 * `BaseHandler` is declared (`setup({ handlers })`, `new Logger(..., { handlers })`); at run time
 * std/log only calls the members above. Pass it as `handler as unknown as BaseHandler`.
 * `handle()` and `log()` never throw: a throwing formatter, getter or logger costs the detail
 * (see `formatter`), not the caller. `destroy()` does not close the logger: its owner does.
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
  /**
   * Turns a record into the message text (std/log's `formatter` member). Its type is the option's
   * method type, so std's own formatters can be assigned too.
   */
  formatter: NonNullable<AsyncLoggerHandlerOptions["formatter"]>;

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

  /**
   * Forwards `record` to the logger at its level, if it is at or above this handler's level.
   * Never throws: a throwing formatter, getter or logger costs the detail, not the caller.
   */
  handle(record: StdLogRecord): void {
    try {
      if (record.level < this.#level) return;
      const fields: LogFields = {};
      let any = false;
      let msg: string;
      try {
        msg = this.format(record);
      } catch (err) {
        msg = formatMessage(record.msg);
        fields.formatterError = unreadable(err);
        any = true;
      }
      if (record.loggerName !== "default") {
        fields.logger = record.loggerName;
        any = true;
      }
      const args = record.args;
      if (args.length === 1 && isPlainObject(args[0])) {
        spread(fields, args[0]);
        any = true;
      } else if (args.length > 0) {
        fields.args = args;
        any = true;
      }
      this.#emit(levelNameOf(record.level), msg, any ? fields : undefined);
    } catch (err) {
      reportLost(err);
    }
  }

  /** Formats a record with {@linkcode AsyncLoggerHandler.formatter}. */
  format(record: StdLogRecord): string {
    return this.formatter(record);
  }

  /** Writes an already formatted message at this handler's level (INFO or higher). Never throws. */
  log(msg: string): void {
    try {
      this.#emit(this.#level < LogLevels.INFO ? "INFO" : this.#levelName, msg, undefined);
    } catch (err) {
      reportLost(err);
    }
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
