/**
 * The provider's periodic check of its connections: closes the stalled ones (read timeout) and
 * the idle ones (idle timeout), whichever protocol they speak.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import type { AcceptedConnection } from "./accepted_connection.ts";
import { ConnectionTimeout, ServerConnection } from "./server_connection.ts";

/** Options of {@linkcode sweepConnections}. */
export interface SweepOptions {
  /** Close a connection with no progress on an unfinished frame, or no frame, this long; 0 = off. */
  readMs: number;
  /** Close a connection with no bytes and no calls this long; 0 = off. */
  idleMs: number;
  logger: Logger;
  /** Now, as `Date.now()` (tests pass their own). */
  now?: number | undefined;
}

/**
 * Closes the connections of `connections` that stalled or idled past the limits. A native
 * connection closed for idleness says GOAWAY first, so a call crossing the close is sent again,
 * not failed.
 *
 * @example
 * ```ts ignore
 * setInterval(() => sweepConnections(connections, { readMs: 30_000, idleMs: 0, logger }), 1000);
 * ```
 */
export function sweepConnections(
  connections: Iterable<AcceptedConnection>,
  options: SweepOptions,
): void {
  const { readMs, idleMs, logger } = options;
  const now = options.now ?? Date.now();
  for (const c of connections) {
    let why: string | undefined;
    // A connection paused by backpressure waits for its peer to read, not to write.
    const reading = readMs > 0 && !(c instanceof ServerConnection && c.readPaused);
    if (reading && c.partialSince > 0 && now - c.partialSince >= readMs) {
      why = `no progress on an unfinished frame (${c.partialBytes} bytes) for ${
        now - c.partialSince
      } ms`;
    } else if (reading && !c.gotFrame && c.partialSince === 0 && now - c.createdAt >= readMs) {
      // (A peer holding part of its first frame is timed by the branch above.)
      why = `no frame within ${now - c.createdAt} ms of connecting`;
    } else if (idleMs > 0 && c.inflight === 0 && now - c.lastReadAt >= idleMs) {
      if (c instanceof ServerConnection) {
        if (c.draining) continue; // already closing
        logger.info("closing idle connection", {
          peer: endpointKey(c.peer),
          idleMs: now - c.lastReadAt,
        });
        // GOAWAY first, so a call crossing the close is sent again, not failed.
        void c.closeIdle().catch(() => {}); // the sweep must not stop for one socket
        continue;
      }
      why = `idle for ${now - c.lastReadAt} ms`;
    }
    if (why !== undefined) {
      logger.warn("closing connection: read timeout", { peer: endpointKey(c.peer), why });
      void c.close(new ConnectionTimeout(why)).catch(() => {}); // the sweep must not stop for one socket
    }
  }
}
