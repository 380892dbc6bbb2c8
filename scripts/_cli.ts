/**
 * Shared by the scripts' command lines: the one-line problem of a `node:util` `parseArgs` error.
 *
 * @module
 */

/**
 * The first line of `e` as a usage problem: `unknown flag "--x"` for an unknown option, else the
 * message without node's "To specify a positional argument..." advice.
 */
export function flagProblem(e: unknown): string {
  const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  const unknown = /^Unknown option '([^']*)'/.exec(message);
  return unknown ? `unknown flag "${unknown[1]}"` : message.replace(/\. To specify.*/, "");
}
