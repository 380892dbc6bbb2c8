/**
 * The default of a provider's `maxConnections`: low enough that accepted sockets cannot use up
 * the process's file descriptors.
 *
 * @module
 */

/** `maxConnections` when none is given and the file descriptor limit cannot be read. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** File descriptors kept for everything but accepted connections (files, ZooKeeper, logs). */
const FD_RESERVE = 64;

/**
 * `DEFAULT_MAX_CONNECTIONS`, or less when the process's soft `RLIMIT_NOFILE` (read from
 * `/proc/self/limits` when read permission for it is already granted; never prompts) leaves
 * fewer descriptors: the limit minus a reserve of 64, shared by `eventLoops` event loops.
 */
export function defaultMaxConnections(eventLoops = 1): number {
  const limit = openFileLimit();
  const byLimit = limit === undefined ? Infinity : Math.floor((limit - FD_RESERVE) / eventLoops);
  return Math.max(1, Math.min(DEFAULT_MAX_CONNECTIONS, byLimit));
}

function openFileLimit(): number | undefined {
  const path = "/proc/self/limits";
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return undefined;
    const line = Deno.readTextFileSync(path).split("\n").find((l) =>
      l.startsWith("Max open files")
    );
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : undefined; // "unlimited" → no bound from here
  } catch {
    return undefined; // not Linux, or no /proc
  }
}
