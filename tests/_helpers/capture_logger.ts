/**
 * A {@linkcode Logger} that keeps every line in memory, for tests that assert what was logged.
 *
 * @module
 */
import type { LevelName, LogFields, Logger } from "../../src/log/logger.ts";

/** One captured log call. */
export interface CapturedLine {
  level: Lowercase<Exclude<LevelName, "NOTSET">>;
  msg: string;
  fields: LogFields;
}

/**
 * Records log calls; `lines` holds them in order.
 *
 * @example
 * ```ts
 * import { CaptureLogger } from "./capture_logger.ts";
 * const log = new CaptureLogger();
 * log.warn("closing connection", { peer: "127.0.0.1:1" });
 * if (log.find("warn", "closing connection").length !== 1) throw new Error();
 * ```
 */
export class CaptureLogger implements Logger {
  /** Every line logged so far. */
  readonly lines: CapturedLine[] = [];

  /** Logs at DEBUG. */
  debug(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "debug", msg, fields: fields ?? {} });
  }
  /** Logs at INFO. */
  info(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "info", msg, fields: fields ?? {} });
  }
  /** Logs at WARN. */
  warn(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "warn", msg, fields: fields ?? {} });
  }
  /** Logs at ERROR. */
  error(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "error", msg, fields: fields ?? {} });
  }
  /** Logs at CRITICAL. */
  critical(msg: string, fields?: LogFields): void {
    this.lines.push({ level: "critical", msg, fields: fields ?? {} });
  }

  /** Lines at `level` whose message contains `text`. */
  find(level: CapturedLine["level"], text: string): CapturedLine[] {
    return this.lines.filter((l) => l.level === level && l.msg.includes(text));
  }

  /** Lines at WARN and above, the ones a test usually cares about. */
  get problems(): CapturedLine[] {
    return this.lines.filter((l) => l.level !== "debug" && l.level !== "info");
  }

  /** Resolves once a line at `level` containing `text` was logged (polls every 5 ms). */
  async waitFor(
    level: CapturedLine["level"],
    text: string,
    timeoutMs = 2000,
  ): Promise<CapturedLine> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.find(level, text)[0];
      if (hit) return hit;
      if (Date.now() >= until) {
        throw new Error(
          `no ${level} line containing "${text}" within ${timeoutMs} ms; got: ${
            JSON.stringify(this.lines.map((l) => `${l.level} ${l.msg}`))
          }`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}
