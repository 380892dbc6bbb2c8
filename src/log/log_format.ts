/**
 * Formatting helpers of the file logger: the default daily file name and the line timestamp.
 *
 * @module
 */

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/**
 * The default log file name of {@linkcode AsyncLogger}: `YYYY-MM-DD-log.txt` for the local
 * calendar date of `date` (the original mprpc used `year-month-day-log.txt`, unpadded; padding
 * makes names sort by date). One file per day: the logger rolls over when the name changes.
 *
 * @example
 * ```ts
 * import { defaultLogFileName } from "./log_format.ts";
 * defaultLogFileName(new Date(2024, 0, 5, 13, 0)); // "2024-01-05-log.txt"
 * ```
 */
export function defaultLogFileName(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-log.txt`;
}

/**
 * Formats `date` as local ISO 8601 time with milliseconds and UTC offset, e.g.
 * `2024-01-05T13:00:00.000+01:00`, so a line's date always matches its daily file.
 *
 * @example
 * ```ts
 * import { formatLogTimestamp } from "./log_format.ts";
 * formatLogTimestamp(new Date(2024, 0, 5, 13, 0)).startsWith("2024-01-05T13:00:00.000"); // true
 * ```
 */
export function formatLogTimestamp(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const abs = Math.abs(offset);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${
    pad(date.getHours())
  }:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}${
    offset >= 0 ? "+" : "-"
  }${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
