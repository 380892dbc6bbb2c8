/**
 * The caller side of the streaming benchmark, in one of two modes.
 *
 * `--mode stream` (the default) opens one stream of `--size`-byte Blobs (`--impl mprpc`:
 * `Bench.Stream` through an RpcChannel; any other `--impl`: the raw framed socket of
 * `ceiling-proto`), decodes every message (`decode` + `toObject`, as mprpc does), and counts them
 * for `--duration-ms` after `--warmup-ms`. Prints `{"result":{messagesPerSec, rssStart, rssEnd,
 * rssMax, rssSamples, windowStart, windowEnd}}` (RSS every second of the window; times as
 * `Date.now()`).
 *
 * `--mode pingpong` sends one `--size`-byte Blob at a time and waits for its echo before sending
 * the next (`--impl mprpc`: `Bench.Chat` through an RpcChannel; any other `--impl`: the raw framed
 * socket of `ceiling-pingpong`), timing each round trip from the decision to send to the decoded
 * reply, for `--duration-ms` after `--warmup-ms`. Prints `{"result":{p50Us, p99Us, maxUs,
 * roundTripsPerSec, roundTrips}}`.
 *
 * @module
 */
import { RpcChannel } from "../src/client/rpc_channel.ts";
import type { BidiStreamMethod, ServerStreamMethod } from "../src/client/call_options.ts";
import { ConsoleLogger } from "../src/log/logger.ts";
import { emit, Histogram, parseFlags } from "./_load.ts";
import { codecOf, loadShapes } from "./_shapes.ts";
import { FramedReader, writeFramed } from "./_length_framing.ts";

const flags = parseFlags(Deno.args);
const impl = flags.get("impl") ?? "mprpc";
const mode = flags.get("mode") ?? "stream";
const port = Number(flags.get("port"));
const size = Number(flags.get("size") ?? 98);
const warmupMs = Number(flags.get("warmup-ms") ?? 500);
const durationMs = Number(flags.get("duration-ms") ?? 3000);
const { bench } = await loadShapes();
const blob = codecOf(bench.parent!.lookupType("mprpcbench.Blob"));
/** A `mprpcbench.Blob` as mprpc's codec hands it over. */
type Blob = { data: Uint8Array };
const channelOptions = {
  address: { host: "127.0.0.1", port },
  logger: new ConsoleLogger("ERROR"),
  timeoutMs: 0,
};

if (mode === "pingpong") emit({ result: await pingPong() });
else if (mode === "stream") emit({ result: await stream() });
else throw new TypeError(`unknown --mode ${mode}`);

/** One stream, one way: messages/s and the caller's RSS over the window. */
async function stream() {
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
    await using channel = new RpcChannel(channelOptions);
    const stub = channel.stub<{ Stream: ServerStreamMethod<{ size: number }, Blob> }>(bench);
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
    const reader = new FramedReader(conn, 256 * 1024);
    while (!stop && await reader.fill()) {
      for (let m = reader.next(); m !== undefined && !stop; m = reader.next()) {
        blob.decode(m);
        tick();
      }
    }
    conn.close();
  }
  const seconds = (performance.now() - startAt) / 1000;
  return {
    messagesPerSec: (count - startCount) / seconds,
    rssStart,
    rssEnd: Deno.memoryUsage().rss,
    rssMax: Math.max(rssStart, ...rssSamples),
    rssSamples,
    windowStart,
    windowEnd: Date.now(),
  };
}

/** One message in flight, echoed back: round-trip latency and round trips/s over the window. */
async function pingPong() {
  const data = new Uint8Array(size).fill(0x62);
  const histogram = new Histogram();
  const t0 = performance.now();
  let startAt = 0;
  let endAt = 0;
  /** Records the round trip begun at `sentAt` (after the warm-up); false once the window is over. */
  function record(sentAt: number): boolean {
    const now = performance.now();
    if (startAt === 0) {
      if (now - t0 >= warmupMs) startAt = now;
      return true;
    }
    histogram.record((now - sentAt) * 1000);
    if (now - startAt < durationMs) return true;
    endAt = now;
    return false;
  }

  if (impl === "mprpc") {
    await using channel = new RpcChannel(channelOptions);
    const stub = channel.stub<{ Chat: BidiStreamMethod<Blob, Blob> }>(bench);
    // The request stream yields one Blob per permit; each reply grants the next permit.
    let more = true;
    let permits = 1;
    let wake: (() => void) | undefined;
    const release = () => {
      permits++;
      wake?.();
      wake = undefined;
    };
    const requests = async function* (): AsyncGenerator<Blob> {
      for (;;) {
        if (permits === 0) await new Promise<void>((resolve) => wake = resolve);
        permits--;
        if (!more) return;
        yield { data };
      }
    };
    let sentAt = performance.now();
    for await (const reply of stub.Chat(requests())) {
      if (reply.data.length !== size) throw new Error(`echo of ${reply.data.length} bytes`);
      more = record(sentAt);
      sentAt = performance.now();
      release(); // after the window, lets the request stream end, which ends the replies
    }
  } else {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const reader = new FramedReader(conn, 64 * 1024);
    let more = true;
    while (more) {
      const sentAt = performance.now();
      await writeFramed(conn, [blob.encode({ data })]);
      let bytes = reader.next();
      while (bytes === undefined) {
        if (!await reader.fill()) {
          throw new Error("the ceiling-pingpong server closed the connection");
        }
        bytes = reader.next();
      }
      const reply = blob.decode(bytes);
      if (reply.data.length !== size) throw new Error(`echo of ${reply.data.length} bytes`);
      more = record(sentAt);
    }
    conn.close();
  }
  return {
    p50Us: histogram.quantile(0.5),
    p99Us: histogram.quantile(0.99),
    maxUs: histogram.max,
    roundTrips: histogram.count,
    roundTripsPerSec: histogram.count / ((endAt - startAt) / 1000),
  };
}
