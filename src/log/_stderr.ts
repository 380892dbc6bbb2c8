/**
 * The last way out of every logger: one line on stderr, never a throw.
 *
 * @module
 */

/**
 * Prints `line` on stderr (through `console.error`). When stderr is gone (closed pipe, replaced
 * console) the line is lost and nothing is thrown: a log call must not fail the program that
 * logs, and there is nowhere left to say so.
 */
export function printToStderr(line: string): void {
  try {
    console.error(line);
  } catch {
    // stderr is gone: nothing left to tell.
  }
}
