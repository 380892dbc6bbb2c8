/**
 * Four-letter words (`srvr`, `mntr`, `wchs`, `cons`, ...): ask a running ZooKeeper server about
 * its state over a plain TCP connection.
 *
 * @module
 */

/** What `srvr` says the server is, or undefined when it does not serve (or does not answer). */
export async function serverMode(
  port: number,
): Promise<"leader" | "follower" | "observer" | "standalone" | undefined> {
  const text = await fourLetterWord(
    port,
    "srvr",
    1000,
    (t) => t.includes("not currently serving") || /Mode: \w+/.test(t),
  );
  if (!text.includes("Zookeeper version")) return undefined;
  const mode = /Mode: (leader|follower|observer|standalone)/.exec(text)?.[1];
  return mode as "leader" | "follower" | "observer" | "standalone" | undefined;
}

/**
 * Sends a four-letter word (`srvr`, `mntr`, `wchs`, `cons`, ...; the launchers allow them all)
 * and returns the answer, `""` when the server is unreachable. Reads until the server closes
 * the connection, `enough(text)` holds, or `timeoutMs` passes.
 */
export async function fourLetterWord(
  port: number,
  word: string,
  timeoutMs = 2000,
  enough: (text: string) => boolean = () => false,
): Promise<string> {
  let conn: Deno.TcpConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const close = () => {
    try {
      conn?.close();
    } catch { /* already closed */ }
    conn = undefined;
  };
  let text = "";
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    timer = setTimeout(close, timeoutMs);
    await conn.write(new TextEncoder().encode(word));
    const buf = new Uint8Array(16384);
    const decoder = new TextDecoder();
    while (conn) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      if (enough(text)) break;
    }
  } catch {
    /* refused, reset or closed by the timer: return what came */
  } finally {
    clearTimeout(timer);
    close();
  }
  return text;
}

/**
 * `mntr` as a map (`zk_server_state`, `zk_znode_count`, `zk_watch_count`,
 * `zk_ephemerals_count`, ...); empty when the server does not serve.
 */
export async function mntr(port: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await fourLetterWord(port, "mntr")).split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1).trim());
  }
  return out;
}
