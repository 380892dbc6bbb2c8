/**
 * A logger whose file I/O happens on a Worker thread, like the original mprpc's queue drained by
 * a writer thread: a log call only formats the line and queues it, so disk I/O never costs an RPC
 * call any time.
 *
 * @module
 */

import { printToStderr } from "./_stderr.ts";
import {
  formatFields,
  formatMessage,
  type LevelName,
  type LogFields,
  type Logger,
  LogLevels,
} from "./logger.ts";
import { defaultLogFileName, formatLogTimestamp } from "./log_format.ts";
import type { FromWriter, ToWriter } from "./_log_protocol.ts";
import { LineQueue } from "./_line_queue.ts";
import { BatchEncoder } from "./_batch_encoder.ts";
import { formatValue } from "./_log_value.ts";

/**
 * What to do with a line logged while `maxQueue` lines are already queued or in flight:
 * - `"drop-newest"` (default): discard the new line, keep the older ones.
 * - `"drop-oldest"`: discard the oldest line not yet handed to the Worker and queue the new one
 *   (if every queued line is already with the Worker, the new line is discarded instead).
 *
 * There is no blocking mode: log calls are synchronous and JavaScript cannot wait inside one
 * (waiting would also stall the very event loop that receives the Worker's acknowledgements).
 * Callers that must not lose lines can `await logger.flush()` between bursts.
 */
export type OverflowPolicy = "drop-newest" | "drop-oldest";

/** Lowest level an {@linkcode AsyncLogger} writes when no `level` is given. */
export const DEFAULT_LOG_LEVEL: LevelName = "INFO";

/** Most lines an {@linkcode AsyncLogger} queues when no `maxQueue` is given. */
export const DEFAULT_LOG_MAX_QUEUE = 100_000;

/** What an {@linkcode AsyncLogger} drops beyond `maxQueue` when no `overflow` is given. */
export const DEFAULT_LOG_OVERFLOW: OverflowPolicy = "drop-newest";

/** Most lines in one batch sent to the log Worker when no `batchLines` is given. */
export const DEFAULT_LOG_BATCH_LINES = 8192;

/** Delay before the first batch after an idle period when no `flushIntervalMs` is given (0: next microtask). */
export const DEFAULT_LOG_FLUSH_INTERVAL_MS = 0;

/** Longest `flushIntervalMs` an {@linkcode AsyncLogger} accepts. */
export const MAX_LOG_FLUSH_INTERVAL_MS = 60_000;

/** Options of {@linkcode AsyncLogger}. */
export interface AsyncLoggerOptions {
  /** Directory of the log files, created if missing. Undefined: no files, console only. */
  dir?: string | undefined;
  /** Lowest level written. Default {@linkcode DEFAULT_LOG_LEVEL}. */
  level?: LevelName | undefined;
  /** Also print each line to stderr, synchronously, in the log call. Default: `dir === undefined`. */
  console?: boolean | undefined;
  /** File name for a line logged at `date`; a new name starts a new file. Default {@linkcode defaultLogFileName}. */
  fileName?: ((date: Date) => string) | undefined;
  /** Most lines queued or unacknowledged by the Worker at once. Default {@linkcode DEFAULT_LOG_MAX_QUEUE}. */
  maxQueue?: number | undefined;
  /** What happens to lines beyond `maxQueue`. Default {@linkcode DEFAULT_LOG_OVERFLOW}. */
  overflow?: OverflowPolicy | undefined;
  /** Time source for timestamps and file names (injectable for tests). Default `Date.now`. */
  clock?: (() => Date | number) | undefined;
  /** Most lines in one batch sent to the Worker. Default {@linkcode DEFAULT_LOG_BATCH_LINES} (and at most a quarter of `maxQueue`). */
  batchLines?: number | undefined;
  /**
   * Delay before sending the first batch after an idle period, ms (0 sends on the next
   * microtask), at most {@linkcode MAX_LOG_FLUSH_INTERVAL_MS}. Default
   * {@linkcode DEFAULT_LOG_FLUSH_INTERVAL_MS}.
   */
  flushIntervalMs?: number | undefined;
}

/** Lifecycle of an {@linkcode AsyncLogger}. */
export type AsyncLoggerState = "open" | "closing" | "closed";

const MAX_IN_FLIGHT = 2; // batches the Worker holds at once: one being written, one ready
const MAX_BATCH_CHARS = 1 << 20;

interface Flight {
  count: number;
  lastSeq: number;
}

interface Waiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function checkLevel(level: string): LevelName {
  if (!Object.hasOwn(LogLevels, level)) {
    throw new TypeError(`unknown log level ${JSON.stringify(level)}`);
  }
  return level as LevelName;
}

/**
 * Writes log lines `TIMESTAMP LEVEL msg key=value...` to daily files through a Worker.
 *
 * - The log call formats the line and queues it; lines go to the Worker in batches, each batch
 *   encoded into one buffer that is transferred (not copied), at most once per microtask (or
 *   `flushIntervalMs`) and when the Worker acknowledges a batch. A batch never spans two files.
 * - Memory is bounded by `maxQueue` (see {@linkcode OverflowPolicy}); discarded lines are
 *   counted in {@linkcode AsyncLogger.dropped}, and once there is room again the logger writes
 *   `WARN dropped N log lines` (at any level setting).
 * - {@linkcode AsyncLogger.flush} resolves when every earlier line is written (or was dropped);
 *   it rejects if a write failed since the last flush. Failed lines are counted as dropped.
 * - {@linkcode AsyncLogger.close} flushes, closes the file and terminates the Worker. A Deno
 *   Worker keeps the process alive, so a logger with `dir` must be closed (or `await using`).
 *   Lines logged after `close()` was called are discarded and counted in `dropped`.
 * - A log call never throws: any field value is written (bigints as digits, cycles as
 *   `[Circular]`, Errors with cause and stack, values that throw when read as `[Unreadable: …]`);
 *   if the `clock` or `fileName` option throws, the line is dropped and counted.
 *
 * @example
 * ```ts
 * import { AsyncLogger } from "./async_logger.ts";
 * const dir = await Deno.makeTempDir();
 * await using log = new AsyncLogger({ dir, level: "INFO" });
 * log.info("provider started", { port: 8000 });
 * log.debug("not written"); // below INFO
 * await log.flush(); // both files and lines are on disk now
 * ```
 */
export class AsyncLogger implements Logger {
  #threshold: number;
  #levelName: LevelName;
  #console: boolean;
  #dir: string | undefined;
  #fileName: (date: Date) => string;
  #clock: () => Date | number;
  #maxQueue: number;
  #overflow: OverflowPolicy;
  #batchLines: number;
  #intervalMs: number;
  #worker: Worker | undefined;
  #state: AsyncLoggerState = "open";
  #closing: Promise<void> | undefined;
  #onWorkerClosed: (() => void) | undefined;
  #closed = Promise.withResolvers<void>();

  #queue = new LineQueue(); // lines not yet sent to the Worker
  #doneSeq = 0; // every line up to this sequence number is written or dropped
  #flights: Flight[] = [];
  #inFlightLines = 0;
  #nextId = 1;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waiters: Waiter[] = [];
  #encoder = new BatchEncoder(MAX_IN_FLIGHT + 1);
  #dropped = 0;
  #unreported = 0;
  #failure: Error | undefined;
  #failing = false;
  #formatFailing = false;

  #lastMs = Number.NaN;
  #stamp = "";
  #name = "";
  #path = "";

  /** Creates the logger; with `dir`, creates the directory (synchronously) and starts the Worker. */
  constructor(options: AsyncLoggerOptions = {}) {
    this.#levelName = checkLevel(options.level ?? DEFAULT_LOG_LEVEL);
    this.#threshold = LogLevels[this.#levelName];
    this.#dir = options.dir;
    this.#console = options.console ?? options.dir === undefined;
    this.#fileName = options.fileName ?? defaultLogFileName;
    this.#clock = options.clock ?? Date.now;
    this.#maxQueue = positiveInt("maxQueue", options.maxQueue, DEFAULT_LOG_MAX_QUEUE);
    const overflow = options.overflow ?? DEFAULT_LOG_OVERFLOW;
    if (overflow !== "drop-newest" && overflow !== "drop-oldest") {
      throw new TypeError(`overflow must be "drop-newest" or "drop-oldest", got ${overflow}`);
    }
    this.#overflow = overflow;
    this.#batchLines = Math.min(
      positiveInt("batchLines", options.batchLines, DEFAULT_LOG_BATCH_LINES),
      Math.ceil(this.#maxQueue / 4),
    );
    const interval = options.flushIntervalMs ?? DEFAULT_LOG_FLUSH_INTERVAL_MS;
    if (!(interval >= 0 && interval <= MAX_LOG_FLUSH_INTERVAL_MS)) {
      throw new RangeError(
        `flushIntervalMs must be between 0 and ${MAX_LOG_FLUSH_INTERVAL_MS}, got ${interval}`,
      );
    }
    this.#intervalMs = interval;
    if (this.#dir !== undefined) {
      if (this.#dir === "") throw new TypeError("dir must not be empty");
      Deno.mkdirSync(this.#dir, { recursive: true });
      const worker = new Worker(new URL("./_log_writer_worker.ts", import.meta.url), {
        type: "module",
        name: "mprpc-log-writer",
      });
      worker.onmessage = (ev: MessageEvent<FromWriter>) => this.#onMessage(ev.data);
      worker.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        this.#onWorkerError(ev.message);
      };
      this.#worker = worker;
    }
  }

  /** The lowest level written; setting an unknown name throws a TypeError. */
  get level(): LevelName {
    return this.#levelName;
  }
  set level(name: LevelName) {
    this.#levelName = checkLevel(name);
    this.#threshold = LogLevels[name];
  }

  /** Lines discarded so far: queue overflow, failed writes, logging after close. */
  get dropped(): number {
    return this.#dropped;
  }

  /** `"open"`, `"closing"` (close() called) or `"closed"` (Worker terminated, file closed). */
  get state(): AsyncLoggerState {
    return this.#state;
  }

  /** Resolves once the logger is closed: file closed and Worker terminated. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Logs at DEBUG. */
  debug(msg: string, fields?: LogFields): void {
    if (this.#threshold <= 10) this.#log("DEBUG", msg, fields);
  }
  /** Logs at INFO. */
  info(msg: string, fields?: LogFields): void {
    if (this.#threshold <= 20) this.#log("INFO", msg, fields);
  }
  /** Logs at WARN. */
  warn(msg: string, fields?: LogFields): void {
    if (this.#threshold <= 30) this.#log("WARN", msg, fields);
  }
  /** Logs at ERROR. */
  error(msg: string, fields?: LogFields): void {
    if (this.#threshold <= 40) this.#log("ERROR", msg, fields);
  }
  /** Logs at CRITICAL. */
  critical(msg: string, fields?: LogFields): void {
    if (this.#threshold <= 50) this.#log("CRITICAL", msg, fields);
  }

  /**
   * Resolves when every line logged so far is written to its file by the Worker (or was
   * dropped); rejects if a write failed since the previous flush. Without `dir`, resolves at once.
   */
  flush(): Promise<void> {
    const target = this.#queue.seq;
    if (this.#doneSeq >= target || this.#worker === undefined) {
      const failure = this.#failure;
      this.#failure = undefined;
      return failure ? Promise.reject(failure) : Promise.resolve();
    }
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#scheduled = false;
    }
    this.#pump();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#waiters.push({ seq: target, resolve, reject });
    return promise;
  }

  /**
   * Flushes, closes the file and terminates the Worker; idempotent (every call returns the same
   * promise). Rejects, after closing, if a write failed since the previous flush.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as {@linkcode AsyncLogger.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#state = "closing";
    let failure: unknown;
    // The final acks may queue one "dropped N log lines" warning: loop until nothing is left.
    while (this.#worker !== undefined && (this.#queue.size > 0 || this.#flights.length > 0)) {
      try {
        await this.flush();
      } catch (err) {
        failure ??= err;
      }
    }
    failure ??= this.#failure;
    this.#failure = undefined;
    const worker = this.#worker;
    if (worker !== undefined) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#onWorkerClosed = resolve;
      worker.postMessage({ type: "close" } satisfies ToWriter);
      await promise; // the Worker closed its file (or died: #onWorkerError resolves this too)
      this.#terminate();
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#encoder.clear();
    this.#state = "closed";
    this.#closed.resolve();
    if (failure !== undefined) throw failure;
  }

  #terminate(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#onWorkerClosed?.();
    this.#onWorkerClosed = undefined;
  }

  #format(level: LevelName, msg: string, fields: LogFields | undefined): string {
    const t = this.#clock();
    const ms = typeof t === "number" ? t : t.getTime();
    if (ms !== this.#lastMs) {
      // Timestamp and file name change at most once per millisecond: cache them.
      const date = new Date(ms);
      this.#stamp = formatLogTimestamp(date);
      if (this.#dir !== undefined) {
        const name = this.#fileName(date);
        if (typeof name !== "string" || name === "") {
          throw new TypeError(`fileName() must return a non-empty string, got ${String(name)}`);
        }
        if (name !== this.#name) {
          this.#name = name;
          this.#path = `${this.#dir.replace(/[\\/]+$/, "")}/${name}`;
        }
      }
      this.#lastMs = ms;
    }
    const line = `${this.#stamp} ${level} ${formatMessage(msg)}${
      fields === undefined ? "" : formatFields(fields)
    }`;
    // The file (if any) gets the line even when stderr is gone.
    if (this.#console) printToStderr(line);
    return line;
  }

  #log(level: LevelName, msg: string, fields: LogFields | undefined): void {
    if (this.#state !== "open") {
      if (this.#dir !== undefined) this.#dropped++;
      return;
    }
    let line: string;
    try {
      line = this.#format(level, msg, fields);
    } catch (err) {
      // Only the clock or fileName option can throw here (fields never make it throw). A log
      // call must not fail its caller: the line is counted as dropped and said once on stderr.
      this.#dropped++;
      if (this.#dir !== undefined) this.#unreported++;
      if (!this.#formatFailing) {
        this.#formatFailing = true;
        // If stderr is gone too, the drop counter keeps the count.
        printToStderr(`AsyncLogger: cannot format a log line: ${formatValue(err)}`);
      }
      return;
    }
    this.#formatFailing = false;
    if (this.#dir === undefined) return;
    if (this.#worker === undefined) {
      this.#dropped++; // the Worker died: nowhere to write
      return;
    }
    if (this.#queue.size + this.#inFlightLines >= this.#maxQueue) {
      this.#dropped++;
      this.#unreported++;
      if (this.#overflow === "drop-newest" || !this.#queue.dropOldest()) return;
    }
    this.#enqueue(line);
  }

  #enqueue(line: string): void {
    this.#queue.push(line, this.#path);
    if (!this.#scheduled && this.#flights.length < MAX_IN_FLIGHT) {
      this.#scheduled = true;
      if (this.#intervalMs > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#scheduled = false;
          this.#pump();
        }, this.#intervalMs);
      } else {
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#pump();
        });
      }
    }
  }

  #pump(): void {
    const worker = this.#worker;
    while (worker !== undefined && this.#flights.length < MAX_IN_FLIGHT) {
      const batch = this.#queue.take(this.#batchLines, MAX_BATCH_CHARS);
      if (batch === undefined) return;
      const { buffer, length } = this.#encoder.encode(batch.text);
      this.#flights.push({ count: batch.count, lastSeq: batch.lastSeq });
      this.#inFlightLines += batch.count;
      const message: ToWriter = {
        type: "write",
        id: this.#nextId++,
        path: batch.path,
        buffer,
        length,
      };
      worker.postMessage(message, [buffer]); // transferred, not copied
    }
  }

  #onMessage(m: FromWriter): void {
    if (m.type === "closed") {
      this.#onWorkerClosed?.();
      this.#onWorkerClosed = undefined;
      return;
    }
    const flight = this.#flights.shift();
    if (flight === undefined) return;
    this.#inFlightLines -= flight.count;
    this.#doneSeq = flight.lastSeq;
    this.#encoder.recycle(m.buffer);
    if (m.error !== undefined) {
      this.#dropped += flight.count;
      this.#unreported += flight.count;
      this.#failure = new Error(`log write failed: ${m.error}`);
      if (!this.#failing) printToStderr(`AsyncLogger: ${this.#failure.message}`);
      this.#failing = true;
    } else {
      this.#failing = false;
    }
    if (this.#unreported > 0 && m.error === undefined) {
      // There is room now (this batch left the queue) and writes work: report the loss, at
      // any level. (Not after a failed write: the warning would fail too, and again.)
      const n = this.#unreported;
      this.#unreported = 0;
      try {
        this.#enqueue(this.#format("WARN", `dropped ${n} log lines`, undefined));
      } catch {
        this.#unreported = n; // the clock or fileName option threw: report with a later batch
      }
    }
    this.#pump();
    this.#settle(false);
  }

  /** Settles the flush() waiters whose lines are all done (all of them if `all`). */
  #settle(all: boolean): void {
    let rejected = false;
    while (this.#waiters.length > 0 && (all || this.#waiters[0]!.seq <= this.#doneSeq)) {
      const w = this.#waiters.shift()!;
      if (this.#failure !== undefined) {
        w.reject(this.#failure);
        rejected = true;
      } else {
        w.resolve();
      }
    }
    if (rejected) this.#failure = undefined;
  }

  #onWorkerError(message: string): void {
    const lost = this.#queue.clear() + this.#inFlightLines;
    printToStderr(`AsyncLogger: log writer Worker failed: ${message} (${lost} lines lost)`);
    this.#dropped += lost;
    this.#flights = [];
    this.#inFlightLines = 0;
    this.#doneSeq = this.#queue.seq;
    this.#failure = new Error(`log writer Worker failed: ${message}`);
    this.#terminate();
    this.#settle(true);
  }
}
