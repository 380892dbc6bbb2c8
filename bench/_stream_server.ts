/**
 * The provider side of the streaming benchmark: `--impl mprpc` serves `mprpcbench.Bench.Stream`
 * (an async generator yielding Blobs until the caller cancels) and `mprpcbench.Bench.Chat` (a
 * bidirectional echo yielding each Blob it receives); `--impl ceiling-proto` is the raw TCP
 * ceiling of `Stream` doing the same protobufjs work: it encodes each Blob (`fromObject` +
 * `encode`), frames it with a 4-byte length, and writes batches with one write in flight, as fast
 * as the socket takes them; `--impl ceiling-pingpong` is the raw TCP ceiling of `Chat`: it decodes
 * each framed Blob (`decode` + `toObject`) and writes it back encoded and framed. Prints
 * `{"ready":true,"port":N}`, then `{"rss":B,"t":ms}` every second; exits when stdin ends.
 *
 * @module
 */
import { RpcProvider } from "../src/server/rpc_provider.ts";
import { ConsoleLogger } from "../src/log/logger.ts";
import { emit, parseFlags, stdinClosed } from "./_load.ts";
import { codecOf, loadShapes } from "./_shapes.ts";
import { FramedReader, writeFramed } from "./_length_framing.ts";

const flags = parseFlags(Deno.args);
const impl = flags.get("impl") ?? "mprpc";
const { bench } = await loadShapes();
const blob = codecOf(bench.parent!.lookupType("mprpcbench.Blob"));

const rssTimer = setInterval(() => emit({ rss: Deno.memoryUsage().rss, t: Date.now() }), 1000);

if (impl === "mprpc") {
  const provider = new RpcProvider({
    host: "127.0.0.1",
    port: 0,
    logger: new ConsoleLogger("ERROR"),
  });
  provider.notifyService(bench, {
    async *Stream(req: { size: number }) {
      const data = new Uint8Array(req.size).fill(0x62);
      for (;;) yield { data };
    },
    async *Chat(requests: AsyncIterable<{ data: Uint8Array }>) {
      for await (const message of requests) yield message;
    },
  });
  await provider.start();
  emit({ ready: true, port: provider.address.port });
  await stdinClosed();
  await provider.close({ graceMs: 0 });
} else if (impl === "ceiling-proto" || impl === "ceiling-pingpong") {
  const serve = impl === "ceiling-proto" ? send : echo;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  emit({ ready: true, port: (listener.addr as Deno.NetAddr).port });
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) serving.push(serve(conn));
  })().catch(() => {});
  await stdinClosed();
  listener.close();
  await accepting;
  await Promise.all(serving);
} else {
  throw new TypeError(`unknown --impl ${impl}`);
}
clearInterval(rssTimer);

/** Reads the size (4 bytes) then sends framed Blobs of that size until the peer goes away. */
async function send(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const head = new Uint8Array(4);
  let got = 0;
  while (got < 4) {
    const n = await conn.read(head.subarray(got));
    if (n === null) return;
    got += n;
  }
  const size = new DataView(head.buffer).getUint32(0);
  const data = new Uint8Array(size).fill(0x62);
  const BATCH_BYTES = 64 * 1024;
  try {
    for (;;) {
      const parts: Uint8Array[] = [];
      let total = 0;
      while (total < BATCH_BYTES) {
        const bytes = blob.encode({ data });
        parts.push(bytes);
        total += 4 + bytes.length;
      }
      await writeFramed(conn, parts);
    }
  } catch {
    // the caller closed its side: done
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** Answers every framed Blob with the same Blob, decoded and encoded again, until the peer goes away. */
async function echo(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const reader = new FramedReader(conn, 64 * 1024);
  try {
    while (await reader.fill()) {
      const replies: Uint8Array[] = [];
      for (let m = reader.next(); m !== undefined; m = reader.next()) {
        replies.push(blob.encode(blob.decode(m)));
      }
      if (replies.length > 0) await writeFramed(conn, replies);
    }
  } catch {
    // the caller closed its side: done
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}
