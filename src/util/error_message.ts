/**
 * The one way a caught value becomes text for an error message or a log line.
 *
 * @module
 */

/**
 * The message of `e` when it is an `Error`, else `e` as a string.
 *
 * @example
 * ```ts
 * import { errorMessage } from "./error_message.ts";
 * if (errorMessage(new Error("boom")) !== "boom") throw new Error();
 * if (errorMessage("plain") !== "plain") throw new Error();
 * ```
 */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
