/**
 * The streaming benchmark: one server stream, one way, provider and caller in separate
 * processes over loopback, in messages/s against the raw TCP ceiling doing the same protobufjs
 * work (`ceiling-proto`, bench/_stream_server.ts), for 100-byte and 64 KiB messages; then the
 * round-trip latency of a bidirectional stream with one 100-byte message in flight
 * (`Bench.Chat` against the raw TCP ping-pong `ceiling-pingpong`); then a soak of one 100-byte
 * stream with the RSS of both processes at its start and end.
 *
 * ```
 * deno run -A bench/stream_bench.ts [--duration S] [--repeat N] [--soak-duration S] [--no-soak]
 *     [--out FILE]
 * ```
 *
 * With `--out` (bench/run.ts passes its RESULTS.md) the "Streaming" section of that file is
 * replaced (or added), between the `<!-- streaming -->` markers; the rest is left as it is.
 *
 * @module
 */
import { parseFlags } from "./_load.ts";

const HERE = new URL(".", import.meta.url);
const flags = parseFlags(Deno.args);
const durationMs = Math.round(Number(flags.get("duration") ?? 3) * 1000);
const repeat = Math.max(1, Number(flags.get("repeat") ?? 3));
const soakMs = Math.round(Number(flags.get("soak-duration") ?? 60) * 1000);
const soak = !flags.has("no-soak");
const outPath = flags.get("out");
const START = "<!-- streaming:start -->";
const END = "<!-- streaming:end -->";

/** A child process speaking JSON lines on stdout; its stdin closing tells it to stop. */
class Child {
  #proc: Deno.ChildProcess;
  #lines: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  /** Every `{"rss": N, "t": ms}` line read so far. */
  readonly rss: Array<{ rss: number; t: number }> = [];
  constructor(script: string, args: string[]) {
    this.#proc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(script, HERE).pathname, ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#stdin = this.#proc.stdin.getWriter();
    this.#lines = this.#proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next JSON line that is not an RSS report. */
  async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const nl = this.#buffer.indexOf("\n");
      if (nl >= 0) {
        const line = JSON.parse(this.#buffer.slice(0, nl));
        this.#buffer = this.#buffer.slice(nl + 1);
        if (typeof line.rss === "number") this.rss.push(line);
        else return line;
        continue;
      }
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("child exited early");
      this.#buffer += value;
    }
  }
  /** Reads the RSS reports that arrived meanwhile (without waiting for more). */
  async drainRss(): Promise<void> {
    let nl;
    while ((nl = this.#buffer.indexOf("\n")) >= 0) {
      const line = JSON.parse(this.#buffer.slice(0, nl));
      this.#buffer = this.#buffer.slice(nl + 1);
      if (typeof line.rss === "number") this.rss.push(line);
    }
    await Promise.resolve();
  }
  #stopped: Promise<void> | undefined;
  /** Closes its stdin and waits for it to exit, reading its last lines. Idempotent. */
  stop(): Promise<void> {
    return this.#stopped ??= this.#stop();
  }
  async #stop(): Promise<void> {
    await this.#stdin.close().catch(() => {});
    // Collect the last RSS lines until the child exits.
    for (;;) {
      const { value, done } = await this.#lines.read();
      if (done) break;
      this.#buffer += value;
      await this.drainRss();
    }
    await this.#proc.status;
  }
}

interface Run {
  messagesPerSec: number;
  rssStart: number;
  rssEnd: number;
  rssMax: number;
  rssSamples: number[];
  serverRssStart: number;
  serverRssEnd: number;
  serverRssMax: number;
}

async function runOnce(impl: string, size: number, ms: number): Promise<Run> {
  const server = new Child("_stream_server.ts", ["--impl", impl]);
  try {
    const ready = await server.next();
    const warmupMs = 500;
    const client = new Child("_stream_client.ts", [
      "--impl",
      impl,
      "--port",
      String(ready.port),
      "--size",
      String(size),
      "--warmup-ms",
      String(warmupMs),
      "--duration-ms",
      String(ms),
    ]);
    const out = await client.next();
    await client.stop();
    await server.stop(); // collects its RSS lines
    const r = out.result as Omit<Run, "serverRssStart" | "serverRssEnd" | "serverRssMax"> & {
      windowStart: number;
      windowEnd: number;
    };
    // The server's samples during the measured window.
    const during = server.rss.filter((x) => x.t >= r.windowStart && x.t <= r.windowEnd)
      .map((x) => x.rss);
    return {
      ...r,
      serverRssStart: during[0] ?? 0,
      serverRssEnd: during.at(-1) ?? 0,
      serverRssMax: Math.max(0, ...during),
    };
  } finally {
    await server.stop();
  }
}

interface PingPong {
  p50Us: number;
  p99Us: number;
  maxUs: number;
  roundTrips: number;
  roundTripsPerSec: number;
}

/** One closed-loop ping-pong of 100-byte Blobs against `--impl impl` of the provider. */
async function pingPongOnce(impl: "ceiling-pingpong" | "mprpc", ms: number): Promise<PingPong> {
  const server = new Child("_stream_server.ts", ["--impl", impl]);
  try {
    const ready = await server.next();
    const client = new Child("_stream_client.ts", [
      "--mode",
      "pingpong",
      "--impl",
      impl,
      "--port",
      String(ready.port),
      "--size",
      "98",
      "--warmup-ms",
      "500",
      "--duration-ms",
      String(ms),
    ]);
    const out = await client.next();
    await client.stop();
    return out.result as PingPong;
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const mib = (b: number) => (b / 2 ** 20).toFixed(1);

const loadStart = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")
  .slice(0, 3).join(" ");
const rows: string[] = [];
for (const [label, size] of [["100 B", 98], ["64 KiB", 65536]] as const) {
  const runs: Record<string, number[]> = { "ceiling-proto": [], mprpc: [] };
  for (let r = 0; r < repeat; r++) {
    for (const impl of ["ceiling-proto", "mprpc"]) {
      const res = await runOnce(impl, size, durationMs);
      runs[impl]!.push(res.messagesPerSec);
      console.error(`stream ${label} ${impl}: ${fmt(res.messagesPerSec)} messages/s`);
      console.log(JSON.stringify({ scenario: `stream ${label} ${impl}`, ...res }));
    }
  }
  const c = median(runs["ceiling-proto"]!);
  const m = median(runs["mprpc"]!);
  const ratios = runs["mprpc"]!.map((v, i) => v / runs["ceiling-proto"]![i]!);
  rows.push(
    `| ${label} one way, 1 stream | ${fmt(c)} | ${fmt(m)} | **${(m / c).toFixed(2)}×** ` +
      `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) |`,
  );
}
const pingRuns: Record<string, PingPong[]> = { "ceiling-pingpong": [], mprpc: [] };
for (let r = 0; r < repeat; r++) {
  for (const impl of ["ceiling-pingpong", "mprpc"] as const) {
    const res = await pingPongOnce(impl, durationMs);
    pingRuns[impl]!.push(res);
    console.error(
      `ping-pong 100 B ${impl}: p50 ${res.p50Us.toFixed(1)} µs, p99 ${res.p99Us.toFixed(1)} µs, ` +
        `${fmt(res.roundTripsPerSec)} round trips/s`,
    );
    console.log(JSON.stringify({ scenario: `bidi ping-pong 100 B ${impl}`, ...res }));
  }
}
const us = (n: number) => n.toFixed(1);
const pick = (impl: string, key: keyof PingPong) => pingRuns[impl]!.map((x) => x[key]);
const range = (xs: number[], f: (n: number) => string) =>
  `${f(median(xs))} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
const pingRatios = pingRuns["mprpc"]!.map((m, i) =>
  m.p50Us / pingRuns["ceiling-pingpong"]![i]!.p50Us
);
const pingCells = [
  range(pick("ceiling-pingpong", "p50Us"), us),
  range(pick("mprpc", "p50Us"), us),
  range(pick("mprpc", "p99Us"), us),
  fmt(median(pick("ceiling-pingpong", "roundTripsPerSec"))),
  fmt(median(pick("mprpc", "roundTripsPerSec"))),
  `**${median(pingRatios).toFixed(2)}×** ` +
  `(${Math.min(...pingRatios).toFixed(2)}–${Math.max(...pingRatios).toFixed(2)})`,
];
const pingRow = `| bidi ping-pong, 100 B, 1 in flight | ${pingCells.join(" | ")} |`;
let soakLine = "";
if (soak) {
  console.error(`soak: one 100-byte stream for ${soakMs / 1000} s ...`);
  const s = await runOnce("mprpc", 98, soakMs);
  console.log(JSON.stringify({ scenario: `stream soak ${soakMs / 1000}s`, ...s }));
  // The caller's RSS at each quarter of the window shows a trend apart from the warm-up.
  const q = s.rssSamples;
  const quarters = [1, 2, 3, 4].map((k) =>
    q[Math.min(q.length - 1, Math.ceil((q.length * k) / 4) - 1)] ?? 0
  );
  soakLine = `| ${soakMs / 1000} s, one 100 B stream, ${fmt(s.messagesPerSec)} messages/s | ` +
    `${mib(s.rssStart)} → ${quarters.map(mib).join(" → ")} (max ${mib(s.rssMax)}) | ` +
    `${mib(s.serverRssStart)} → ${mib(s.serverRssEnd)} (max ${mib(s.serverRssMax)}) |`;
}
const loadEnd = (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")
  .slice(0, 3).join(" ");
const date = new Date().toISOString().replace(/\.\d+Z$/, "Z");
const section = [
  START,
  "## Streaming (`deno run -A bench/stream_bench.ts`, also run by `deno task bench`)",
  "",
  `Run ${date}; load average ${loadStart} at the start, ${loadEnd} at the end (1, 5, 15 min); ` +
  `${durationMs / 1000} s windows after 0.5 s warm-up, median of ${repeat} interleaved rounds.`,
  "",
  "One server stream, one way, provider and caller in separate processes over loopback. " +
  "`ceiling-proto` is a raw TCP socket doing the same protobufjs work per message " +
  "(`fromObject`+`encode` on the sender, `decode`+`toObject` on the receiver, 4-byte length " +
  "framing, batched writes, no flow control); mprpc is `Bench.Stream`, an async generator " +
  "yielding Blobs, iterated with `for await`, with per-stream credit flow control " +
  "(256 KiB window). Ratio range: min–max over the rounds.",
  "",
  "| scenario | ceiling-proto messages/s | mprpc messages/s | mprpc ÷ ceiling |",
  "| --- | ---: | ---: | ---: |",
  ...rows,
  "",
  "Bidirectional ping-pong: one 100-byte Blob in flight on one stream, the next sent as soon as " +
  "the echo of the last is decoded; mprpc is `Bench.Chat` (the provider's handler yields each " +
  "message it receives, the caller feeds an async generator), `ceiling-pingpong` a raw TCP " +
  "socket with TCP_NODELAY doing the same protobufjs work per message and 4-byte length " +
  "framing; the round trip runs from the decision to send to the decoded reply. Median of the " +
  "rounds (min–max); the ratio is mprpc's p50 over the ceiling's, per round.",
  "",
  "| scenario | ceiling-pingpong p50 µs | mprpc p50 µs | mprpc p99 µs | ceiling round trips/s | " +
  "mprpc round trips/s | mprpc ÷ ceiling (p50) |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  pingRow,
  "",
  ...(soak
    ? [
      "Soak (memory over time, RSS in MiB; caller: start of the measured window, then at each " +
      "quarter of it; provider: start → end):",
      "",
      "| soak | caller RSS | provider RSS |",
      "| --- | ---: | ---: |",
      soakLine,
      "",
    ]
    : []),
  END,
].join("\n");
console.error(section);
if (outPath) {
  const old = await Deno.readTextFile(outPath).catch(() => "");
  const a = old.indexOf(START);
  const b = old.indexOf(END);
  const md = a >= 0 && b > a
    ? old.slice(0, a) + section + old.slice(b + END.length)
    : old.trimEnd() + "\n\n" + section + "\n";
  await Deno.writeTextFile(outPath, md);
  console.error(`wrote the streaming section of ${outPath}`);
}
