/**
 * A loopback port where TCP connects hang: a listener with a backlog of 0 that never accepts,
 * its one queue slot taken. Linux then drops further SYNs, so `connect()` neither succeeds nor
 * fails until it gives up (a blackholed address, on 127.0.0.1). Deno cannot set a listen
 * backlog, so the listener is a small `python3` process.
 *
 * @module
 */

/** A blackholed port; `close()` ends the listener process and the filler connection. */
export interface Blackhole extends AsyncDisposable {
  port: number;
  close(): Promise<void>;
}

const LISTENER = `
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
`;

/** Why {@linkcode startBlackhole} cannot run here, or undefined when it can. */
export async function blackholeUnavailable(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("python3", { args: ["-c", "print(1)"], stdout: "piped" })
      .output();
    return out.success ? undefined : "python3 does not run";
  } catch {
    return "python3 is not installed (needed for a listener with a backlog of 0)";
  }
}

/**
 * Starts the listener, fills its queue and checks that a further connect hangs.
 *
 * @example
 * ```ts ignore
 * await using hole = await startBlackhole();
 * await Deno.connect({ hostname: "127.0.0.1", port: hole.port }); // hangs
 * ```
 */
export async function startBlackhole(): Promise<Blackhole> {
  const child = new Deno.Command("python3", {
    args: ["-c", LISTENER],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const port = Number(text.trim());
  // The one slot of the accept queue: taken by a connection that is never accepted.
  const filler = await Deno.connect({ hostname: "127.0.0.1", port });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      filler.close();
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
    })();
  return { port, close, [Symbol.asyncDispose]: close };
}
