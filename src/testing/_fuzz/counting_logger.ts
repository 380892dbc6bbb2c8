/**
 * A logger that records warnings and errors, to count the log lines a case cost.
 *
 * @module
 */
import type { LogFields, Logger } from "../../log/logger.ts";
import type { FuzzLogLine } from "./options.ts";

/** A logger that keeps the lines of one caller-side case. */
export class CountingLogger implements Logger {
  lines: FuzzLogLine[] = [];
  debug(): void {}
  info(): void {}
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "warn", msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "error", msg, fields });
  }
  critical(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "critical", msg, fields });
  }
}
