/**
 * The receiving side of the streaming benchmark: opens one stream of `--size`-byte Blobs
 * (`--impl mprpc`: `Bench.Stream` through an RpcChannel; `--impl ceiling-proto`: the raw framed
 * socket), decodes every message (`decode` + `toObject`, as mprpc does), and counts them for
 * `--duration-ms` after `--warmup-ms`. Prints `{"result":{messagesPerSec, rssStart, rssEnd, rssMax,
 * rssSamples, windowStart, windowEnd}}` (RSS every second of the window; times as `Date.now()`).
 *
 * @module
 */
import { RpcChannel } from "../src/client/rpc_channel.ts";
import type { ServerStreamMethod } from "../src/client/call_options.ts";
import { ConsoleLogger } from "../src/log/logger.ts";
import { emit, parseFlags } from "./_load.ts";
import { codecOf, loadShapes } from "./_shapes.ts";

const flags = parseFlags(Deno.args);
const impl = flags.get("impl") ?? "mprpc";
const port = Number(flags.get("port"));
const size = Number(flags.get("size") ?? 98);
const warmupMs = Number(flags.get("warmup-ms") ?? 500);
const durationMs = Number(flags.get("duration-ms") ?? 3000);
const { bench } = await loadShapes();
const blob = codecOf(bench.parent!.lookupType("mprpcbench.Blob"));

let count = 0;
let startCount = 0;
let startAt = 0;
let rssStart = 0;
let windowStart = 0;
const rssSamples: number[] = [];
let stop = false;
const t0 = performance.now();
/** Called per message: opens and closes the measuring window. */
function tick(): void {
  count++;
  if ((count & 1023) !== 0) return;
  const now = performance.now();
  if (startAt === 0 && now - t0 >= warmupMs) {
    startAt = now;
    startCount = count;
    windowStart = Date.now();
    rssStart = Deno.memoryUsage().rss;
  }
  if (startAt > 0 && rssSamples.length < (now - startAt) / 1000) {
    rssSamples.push(Deno.memoryUsage().rss);
  }
  if (startAt > 0 && now - startAt >= durationMs) stop = true;
}

if (impl === "mprpc") {
  await using channel = new RpcChannel({
    address: { host: "127.0.0.1", port },
    logger: new ConsoleLogger("ERROR"),
    timeoutMs: 0,
  });
  const stub = channel.stub<{ Stream: ServerStreamMethod<{ size: number }, { data: Uint8Array }> }>(
    bench,
  );
  for await (const _ of stub.Stream({ size })) {
    tick();
    if (stop) break;
  }
} else {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const head = new Uint8Array(4);
  new DataView(head.buffer).setUint32(0, size);
  await conn.write(head);
  let buf = new Uint8Array(256 * 1024);
  let have = 0;
  while (!stop) {
    if (have === buf.length) {
      const next = new Uint8Array(buf.length * 2);
      next.set(buf);
      buf = next;
    }
    const n = await conn.read(buf.subarray(have));
    if (n === null) break;
    have += n;
    let p = 0;
    while (have - p >= 4 && !stop) {
      const len = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
      if (have - p - 4 < len) break;
      blob.decode(buf.subarray(p + 4, p + 4 + len));
      tick();
      p += 4 + len;
    }
    buf.copyWithin(0, p, have);
    have -= p;
  }
  conn.close();
}
const seconds = (performance.now() - startAt) / 1000;
emit({
  result: {
    messagesPerSec: (count - startCount) / seconds,
    rssStart,
    rssEnd: Deno.memoryUsage().rss,
    rssMax: Math.max(rssStart, ...rssSamples),
    rssSamples,
    windowStart,
    windowEnd: Date.now(),
  },
});
