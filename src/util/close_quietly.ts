/**
 * Closing what may already be closed.
 *
 * @module
 */

/**
 * Closes `resource`, ignoring the error of one already closed (by the peer, the runtime or an
 * earlier close).
 *
 * @example
 * ```ts
 * import { closeQuietly } from "./close_quietly.ts";
 * let closes = 0;
 * const once = { close() { if (closes++ > 0) throw new Error("already closed"); } };
 * closeQuietly(once);
 * closeQuietly(once); // no throw
 * ```
 */
export function closeQuietly(resource: { close(): void } | undefined): void {
  try {
    resource?.close();
  } catch {
    // Already closed.
  }
}
