/**
 * Logging: the `Logger` interface every component takes, a console logger, the asynchronous
 * logger (a Worker writes the lines, so logging never blocks the event loop) and its adapter
 * for std/log-shaped handlers.
 *
 * @example
 * ```ts
 * import { AsyncLogger } from "./log.ts";
 *
 * const logger = new AsyncLogger({ console: false });
 * logger.info("provider started", { port: 8000 });
 * await logger.close();
 * ```
 *
 * @module
 */
export {
  ConsoleLogger,
  type LevelName,
  type LogFields,
  type Logger,
  LogLevels,
} from "./src/log/logger.ts";
export {
  AsyncLogger,
  type AsyncLoggerOptions,
  type AsyncLoggerState,
  type OverflowPolicy,
} from "./src/log/async_logger.ts";
export {
  AsyncLoggerHandler,
  type AsyncLoggerHandlerOptions,
  type StdLogRecord,
} from "./src/log/std_handler.ts";
