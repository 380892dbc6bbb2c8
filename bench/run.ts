/**
 * The benchmark suite (`deno task bench`): mprpc against a raw TCP ceiling, provider and caller
 * in separate processes over loopback, closed-loop load, one JSON line per scenario on stdout,
 * and `bench/RESULTS.md` written at the end.
 *
 * ```
 * deno run -A --unstable-net bench/run.ts [--quick] [--repeat N] [--duration S] [--only a,b]
 *     [--soak] [--soak-duration S] [--out FILE] [--profile provider|caller] [--profile-dir DIR]
 *     [--grpc] [--pin same|split]
 * ```
 *
 * - `--quick`: 1 s windows (0.3 s warm-up) instead of 3 s (0.5 s warm-up).
 * - `--repeat N`: runs every scenario N times (interleaved) and reports the median and range.
 * - `--only a,b`: scenarios whose name contains one of the comma-separated texts; RESULTS.md is
 *   then only written with an explicit `--out`.
 * - `--soak`: adds a 60 s (`--soak-duration`) run reporting RSS at start and end (and a soak of
 *   one stream, in the streaming section).
 * - `--profile provider|caller`: runs that side of the mprpc scenarios with `--cpu-prof` and
 *   prints the top self-time functions (profiles go to `--profile-dir`, default a temp dir).
 * - `--grpc`: runs `npm ci --prefix bench/grpc_js` first when bench/grpc_js/node_modules is
 *   missing. The `grpc-js small ...` scenarios (the same Login over @grpc/grpc-js in Node, see
 *   bench/grpc_js/) run whenever `node` is on PATH and bench/grpc_js/node_modules exists, and are
 *   skipped with a note otherwise.
 * - `--pin same|split`: runs the provider and caller of each scenario above on one CPU (`same`,
 *   CPU 0) or on two (`split`, provider on CPU 0, caller on CPU 1), through `taskset`. Unpinned,
 *   the scheduler puts the two processes of a `1x1` run on one CPU or on two, and the p50 of that
 *   run is about 25 µs or 60–90 µs accordingly (cross-CPU wake-ups); which one happens flips from
 *   run to run, so latency ratios of unpinned runs compare placements as much as implementations.
 *   `workers=N` scenarios are not pinned (the provider's event loops need every core).
 *
 * Shapes: `small` (Login, 100-byte request) and `64k` (Echo of a 65,536-byte `bytes` field), each
 * as `1x1`, `1x64` (one connection, 64 calls outstanding) and `8x16` (8 connections — 8
 * RpcChannel instances, or 8 raw sockets, in ONE caller process — with 16 outstanding each).
 * Ceilings: `ceiling-bytes` (raw echo, bytes only), `ceiling-proto` (raw echo plus the same
 * protobufjs work as mprpc at both ends, decoding views into its reused read buffer) and, for the
 * 64k shapes, `ceiling-proto-copy` (the same, decoding copies that own their bytes, as mprpc's
 * messages do), see bench/_echo_server.ts. Streams (one server stream,
 * one way, 100-byte and 64 KiB messages; the round-trip latency of a bidirectional ping-pong)
 * run last, in bench/stream_bench.ts.
 *
 * @module
 */
import { startZooKeeper, zkAvailable } from "../src/testing/mod.ts";
import { parseFlags } from "./_load.ts";
import { formatSummary, profileFiles, summarize } from "./cpuprofile_top.ts";
import { loadShapes } from "./_shapes.ts";

type Impl = "mprpc" | "ceiling-bytes" | "ceiling-proto" | "ceiling-proto-copy" | "grpc-js";
type Kind = "load" | "outstanding" | "idle" | "soak" | "alloc";

interface Scenario {
  name: string;
  kind: Kind;
  impl: Impl;
  shape: "small" | "64k";
  conns: number;
  depth: number;
  variant?: "log" | "zk" | "metrics-off" | "metrics" | "loan" | { workers: number };
}

// deno-lint-ignore no-explicit-any
type Json = any;

const HERE = new URL(".", import.meta.url);
const SIZES = await (async () => {
  const { small, "64k": big } = await loadShapes();
  return {
    smallRequest: small.requestCodec.encode(small.request).length,
    smallResponse: small.responseCodec.encode(small.respond(small.request)).length,
    bigRequest: big.requestCodec.encode(big.request).length,
  };
})();
const flags = parseFlags(Deno.args);
const quick = flags.has("quick");
const repeat = Math.max(1, Number(flags.get("repeat") ?? 1));
const durationMs = Math.round(Number(flags.get("duration") ?? (quick ? 1 : 3)) * 1000);
const warmupMs = quick ? 300 : 500;
const only = flags.get("only")?.split(",").map((s) => s.trim()).filter(Boolean);
const soak = flags.has("soak");
const soakMs = Math.round(Number(flags.get("soak-duration") ?? 60) * 1000);
const profileRole = flags.get("profile") as "provider" | "caller" | undefined;
if (profileRole !== undefined && profileRole !== "provider" && profileRole !== "caller") {
  throw new TypeError(`--profile must be provider or caller, got ${profileRole}`);
}
const pin = flags.get("pin") as "same" | "split" | undefined;
if (pin !== undefined && pin !== "same" && pin !== "split") {
  throw new TypeError(`--pin must be same or split, got ${pin}`);
}
if (pin === "split" && navigator.hardwareConcurrency < 2) {
  throw new RangeError(`--pin split needs 2 CPUs, found ${navigator.hardwareConcurrency}`);
}
/**
 * The CPU a child of `role` is pinned to (`--pin`), or undefined. A `workers=N` provider is never
 * pinned (its event loops need the cores), nor its caller.
 */
function cpuOf(role: "provider" | "caller", sc?: Scenario): string | undefined {
  if (pin === undefined || typeof sc?.variant === "object") return undefined;
  return pin === "split" && role === "caller" ? "1" : "0";
}
const outPath = flags.get("out") ?? (only ? undefined : new URL("RESULTS.md", HERE).pathname);
for (const key of flags.keys()) {
  const known = [
    "quick",
    "repeat",
    "duration",
    "only",
    "soak",
    "soak-duration",
    "out",
    "profile",
    "profile-dir",
    "grpc",
    "pin",
  ];
  if (!known.includes(key)) throw new TypeError(`unknown flag --${key}`);
}

/** Calls counted by the `alloc` scenarios (after as many to warm up). */
const ALLOC_CALLS = 40_000;
/**
 * The `alloc` scenarios' caller: `gc()` exposed, and a young generation (128 MiB semi-spaces)
 * that the counted calls (~2 KB each) cannot fill, so no collection runs while counting.
 */
const ALLOC_V8_FLAGS = "--expose-gc,--min-semi-space-size=128,--max-semi-space-size=128";

// ---------------------------------------------------------------------------------------------
// Child processes

const live = new Set<Child>();
/** The ZooKeeper of the `mprpc+zk` scenario, started on first use. */
let zkServer: Awaited<ReturnType<typeof startZooKeeper>> | undefined;

/** A `deno run` child speaking JSON lines on stdout; stderr goes to ours. */
class Child {
  readonly proc: Deno.ChildProcess;
  readonly name: string;
  #reader: ReadableStreamDefaultReader<string>;
  #buf = "";
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stopped: Promise<void> | undefined;

  /**
   * `runtime` "node" runs `script` with `node` (the grpc-js comparison) instead of `deno run`;
   * `cpu` pins it there with `taskset` (which execs it: the pid stays the child's); `v8Flags` go
   * to Deno's `--v8-flags`.
   */
  constructor(
    script: string,
    args: string[],
    profileDir?: string,
    runtime: "deno" | "node" = "deno",
    cpu?: string,
    v8Flags?: string,
  ) {
    this.name = script;
    const denoArgs = ["run", "-A", "--unstable-net"];
    if (profileDir) denoArgs.push("--cpu-prof", `--cpu-prof-dir=${profileDir}`);
    if (v8Flags) denoArgs.push(`--v8-flags=${v8Flags}`);
    const path = new URL(script, HERE).pathname;
    const exe = runtime === "node" ? "node" : Deno.execPath();
    const exeArgs = runtime === "node" ? [path, ...args] : [...denoArgs, path, ...args];
    this.proc = new Deno.Command(cpu === undefined ? exe : "taskset", {
      args: cpu === undefined ? exeArgs : ["-c", cpu, exe, ...exeArgs],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    live.add(this);
    this.#reader = this.proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    this.#stdin = this.proc.stdin.getWriter();
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** The next JSON line (other lines are passed to stderr), or an error after `timeoutMs`. */
  async next(timeoutMs: number): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        const line = this.#buf.slice(0, nl).trim();
        this.#buf = this.#buf.slice(nl + 1);
        if (line.startsWith("{")) return JSON.parse(line);
        if (line) console.error(`[${this.name}] ${line}`);
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const left = deadline - Date.now();
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), Math.max(0, left))),
      ]).finally(() => clearTimeout(timer));
      if (chunk === "timeout") {
        throw new Error(`${this.name} (pid ${this.pid}) said nothing for ${timeoutMs} ms`);
      }
      if (chunk.done) {
        const status = await this.proc.status;
        throw new Error(`${this.name} (pid ${this.pid}) exited with code ${status.code}`);
      }
      this.#buf += chunk.value;
    }
  }

  /** Closes stdin (the signal to shut down), waits up to 10 s, then kills. Idempotent. */
  stop(): Promise<void> {
    return this.#stopped ??= (async () => {
      try {
        await this.#stdin.close();
      } catch { /* already exited */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        this.proc.status.then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), 10_000)),
      ]);
      clearTimeout(timer);
      if (!exited) {
        try {
          this.proc.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }
      await this.proc.status;
      // Drain stdout so the pipe resource closes.
      try {
        for (;;) if ((await this.#reader.read()).done) break;
      } catch { /* closed */ }
      live.delete(this);
    })();
  }
}

async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.stop()));
}

/** Ctrl-C or SIGTERM: kill every child (and the ZooKeeper server) at once, then exit. */
const onSignal = () => {
  for (const c of live) {
    try {
      c.proc.kill("SIGKILL");
    } catch { /* gone */ }
  }
  try {
    installer?.kill("SIGKILL");
  } catch { /* gone */ }
  // kill() signals the JVM synchronously before its first await; the exit must not wait.
  void zkServer?.kill().catch(() => {});
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

// ---------------------------------------------------------------------------------------------
// Scenarios

const notes: string[] = [];

// --- grpc-js comparison (bench/grpc_js/) -------------------------------------------------------

const GRPC_DIR = new URL("grpc_js/", HERE).pathname;
/** `npm ci` of `--grpc`, while it runs (killed by the signal handler). */
let installer: Deno.ChildProcess | undefined;
/** Whether the grpc-js scenarios can run; set by {@linkcode prepareGrpc} before the first run. */
let grpcReady = false;

/** `node --version`, or undefined when there is no `node` on PATH. */
async function nodeVersion(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("node", {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Decides whether the grpc-js scenarios run (node on PATH and bench/grpc_js/node_modules present;
 * with `--grpc`, runs `npm ci` first when node_modules is missing) and says why not in a note.
 */
async function prepareGrpc(): Promise<void> {
  const node = await nodeVersion();
  if (node === undefined) {
    notes.push("grpc-js scenarios skipped: no `node` on PATH.");
    return;
  }
  const modules = `${GRPC_DIR}node_modules`;
  if (!(await exists(modules)) && flags.has("grpc")) {
    console.error(`running npm ci --prefix ${GRPC_DIR} ...`);
    installer = new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund", "--prefix", GRPC_DIR],
      stdin: "null",
      stdout: "piped", // our stdout carries the JSON lines: npm's output goes to stderr
      stderr: "inherit",
    }).spawn();
    const [out, status] = await Promise.all([
      new Response(installer.stdout).text(),
      installer.status,
    ])
      .finally(() => installer = undefined);
    if (out.trim()) console.error(out.trim());
    if (!status.success) throw new Error(`npm ci --prefix ${GRPC_DIR} exited with ${status.code}`);
  }
  if (!(await exists(modules))) {
    notes.push(
      "grpc-js scenarios skipped: bench/grpc_js/node_modules is missing (pass `--grpc` to run " +
        "`npm ci --prefix bench/grpc_js` first).",
    );
    return;
  }
  const pkg = JSON.parse(await Deno.readTextFile(`${GRPC_DIR}package.json`));
  const deps = Object.entries(pkg.dependencies as Record<string, string>)
    .map(([name, version]) => `${name} ${version}`).join(", ");
  notes.push(
    `\`grpc-js\`: the same Login (examples/user/user.proto, same request and response) over ` +
      `gRPC with ${deps} on Node ${node} (bench/grpc_js/server.mjs, bench/grpc_js/client.mjs; ` +
      "proto-loader with the same conversions as mprpc's codec). Same closed loop, warm-up and " +
      "window; 8x16 = 8 grpc.Channel instances with local subchannel pools (8 HTTP/2 " +
      "connections) in one Node process. `mprpc ÷ grpc-js` = mprpc calls/s ÷ grpc-js calls/s of " +
      "the same shape, paired by round.",
  );
  grpcReady = true;
}

/** Runs one grpc-js scenario: bench/grpc_js/server.mjs and client.mjs under Node. */
async function runGrpcOnce(sc: Scenario): Promise<Json> {
  if (!grpcReady) return { skipped: true };
  const server = new Child("grpc_js/server.mjs", [], undefined, "node", cpuOf("provider"));
  try {
    const ready = await server.next(60_000);
    const args = [ready.port, sc.conns, sc.depth, warmupMs, durationMs, server.pid].map(String);
    const caller = new Child("grpc_js/client.mjs", args, undefined, "node", cpuOf("caller"));
    try {
      const out = await caller.next(durationMs + warmupMs + 60_000);
      if (out.result?.firstError) throw new Error(`calls failed: ${out.result.firstError}`);
      return out.result;
    } finally {
      await caller.stop();
    }
  } finally {
    await server.stop();
  }
}

// --- end of grpc-js comparison -----------------------------------------------------------------

/**
 * Every scenario, in run order: per shape and concurrency the two ceilings then mprpc, each
 * mprpc variant right after the plain mprpc run it is compared with, memory checks last.
 */
function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  const shapes = ["small", "64k"] as const;
  const concurrency = [[1, 1], [1, 64], [8, 16]] as const;
  for (const shape of shapes) {
    for (const [conns, depth] of concurrency) {
      const at = `${shape} ${conns}x${depth}`;
      // The copying ceiling where owning the decoded bytes costs something: 64 KiB fields.
      const impls = shape === "64k"
        ? ["ceiling-bytes", "ceiling-proto", "ceiling-proto-copy", "mprpc"] as const
        : ["ceiling-bytes", "ceiling-proto", "mprpc"] as const;
      for (const impl of impls) {
        list.push({ name: `${impl} ${at}`, kind: "load", impl, shape, conns, depth });
      }
      const mprpc = { kind: "load", impl: "mprpc", shape, conns, depth } as const;
      if (at === "small 1x64") {
        list.push({ ...mprpc, name: `mprpc+log ${at}`, variant: "log" });
        list.push({ ...mprpc, name: `mprpc+zk ${at}`, variant: "zk" });
        // Metrics off on both sides, then on with the provider's admin listener (compared).
        list.push({ ...mprpc, name: `mprpc metrics=off ${at}`, variant: "metrics-off" });
        list.push({ ...mprpc, name: `mprpc+metrics ${at}`, variant: "metrics" });
      }
      if (shape === "64k") {
        // Receive buffers lent instead of copied: provider's lendRequestBytes, caller's loan.
        list.push({ ...mprpc, name: `mprpc+loan ${at}`, variant: "loan" });
      }
      if (at === "small 8x16") {
        for (const workers of [1, 2]) {
          list.push({ ...mprpc, name: `mprpc workers=${workers} ${at}`, variant: { workers } });
        }
      }
      if (shape === "small") {
        list.push({ name: `grpc-js ${at}`, kind: "load", impl: "grpc-js", shape, conns, depth });
      }
    }
  }
  const base = { kind: "load", impl: "mprpc", shape: "small", conns: 1, depth: 64 } as const;
  // Bytes allocated per call, counted with no garbage collection in between (bench/_load.ts).
  for (const impl of ["ceiling-proto", "mprpc"] as const) {
    list.push({ ...base, impl, kind: "alloc", name: `alloc ${impl} small 1x64` });
  }
  list.push({
    ...base,
    kind: "alloc",
    name: "alloc mprpc metrics=off small 1x64",
    variant: "metrics-off",
  });
  list.push({ ...base, kind: "outstanding", depth: 10_000, name: "mem caller 10k outstanding" });
  list.push({ ...base, kind: "idle", conns: 1000, depth: 0, name: "mem provider 1k idle conns" });
  if (soak) {
    list.push({ ...base, kind: "soak", name: `soak ${soakMs / 1000}s small 1x64` });
  }
  return list;
}

/** Settles like `p`, or rejects after `ms` (the helper's own waits are not all bounded). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function zkConnect(): Promise<string | undefined> {
  if (zkServer) return zkServer.connect;
  if (!(await within(zkAvailable(), 20_000, "looking for ZooKeeper"))) return undefined;
  const starting = startZooKeeper({ startTimeoutMs: 30_000 });
  try {
    zkServer = await within(starting, 45_000, "starting ZooKeeper");
  } catch (e) {
    // Should it start after all, stop it.
    void starting.then((s) => s.stop()).catch(() => {}); // best effort, nothing to report to
    throw e;
  }
  return zkServer.connect;
}

/** Runs one scenario once; returns its caller's `result` or `memory` record. */
async function runOnce(sc: Scenario, profileDir: string | undefined): Promise<Json> {
  if (sc.impl === "grpc-js") return await runGrpcOnce(sc);
  const serverArgs: string[] = [];
  const callerArgs: string[] = [];
  let logDir: string | undefined;
  let serverScript = "_provider_proc.ts";
  let callerScript = "_caller_proc.ts";
  if (sc.impl !== "mprpc") {
    serverScript = "_echo_server.ts";
    callerScript = "_echo_client.ts";
    const mode = sc.impl === "ceiling-bytes"
      ? "bytes"
      : sc.impl === "ceiling-proto-copy"
      ? "proto-copy"
      : "proto";
    serverArgs.push("--mode", mode, "--shape", sc.shape);
    callerArgs.push("--mode", mode);
  } else {
    callerArgs.push("--mode", sc.kind === "alloc" ? "load" : sc.kind);
  }
  if (sc.kind === "alloc") callerArgs.push("--alloc-calls", String(ALLOC_CALLS));
  if (sc.variant === "log") {
    logDir = await Deno.makeTempDir({ prefix: "mprpc_bench_log_" });
    serverArgs.push("--log-dir", `${logDir}/provider`);
    callerArgs.push("--log-dir", `${logDir}/caller`);
  } else if (sc.variant === "metrics-off") {
    serverArgs.push("--metrics", "off");
    callerArgs.push("--metrics", "off");
  } else if (sc.variant === "metrics") {
    serverArgs.push("--admin", "true");
  } else if (sc.variant === "loan") {
    serverArgs.push("--lend", "true");
    callerArgs.push("--loan", "true");
  } else if (typeof sc.variant === "object") {
    serverArgs.push("--workers", String(sc.variant.workers));
  }
  const zk = sc.variant === "zk" ? await zkConnect() : undefined;
  if (sc.variant === "zk") {
    if (zk === undefined) {
      notes.push("ZooKeeper scenario skipped: no ZooKeeper installation found (zkAvailable()).");
      return { skipped: true };
    }
    serverArgs.push("--zk", zk);
  }
  const window = sc.kind === "soak" ? soakMs : durationMs;
  const prof = (role: "provider" | "caller") =>
    sc.impl === "mprpc" && profileRole === role ? profileDir : undefined;
  const server = new Child(
    serverScript,
    serverArgs,
    prof("provider"),
    "deno",
    cpuOf("provider", sc),
  );
  try {
    const ready = await server.next(60_000);
    callerArgs.push(
      ...(zk ? ["--zk", zk] : ["--address", `127.0.0.1:${ready.port}`]),
      "--peer-pid",
      String(server.pid),
      "--shape",
      sc.shape,
      "--conns",
      String(sc.conns),
      "--depth",
      String(sc.depth),
      "--warmup-ms",
      String(sc.kind === "soak" ? 1000 : warmupMs),
      "--duration-ms",
      String(window),
      "--count",
      String(sc.kind === "idle" ? sc.conns : sc.depth),
    );
    const caller = new Child(
      callerScript,
      callerArgs,
      prof("caller"),
      "deno",
      cpuOf("caller", sc),
      sc.kind === "alloc" ? ALLOC_V8_FLAGS : undefined,
    );
    try {
      const out = await caller.next(window + warmupMs + 60_000);
      if (out.result?.firstError || out.memory?.firstError) {
        throw new Error(`calls failed: ${out.result?.firstError ?? out.memory?.firstError}`);
      }
      if (logDir) out.result.logBytes = await dirBytes(logDir);
      return out.result ?? out.memory;
    } finally {
      await caller.stop();
    }
  } finally {
    await server.stop();
    if (logDir) await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) total += await dirBytes(p);
    else if (e.isFile) total += (await Deno.stat(p)).size;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Aggregation

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The per-field median of records of the same shape (numbers only; other values from the first). */
function medianRecord(records: Json[]): Json {
  const first = records[0];
  if (typeof first === "number") return median(records as number[]);
  if (first === null || typeof first !== "object" || Array.isArray(first)) return first;
  const out: Json = {};
  for (const key of Object.keys(first)) out[key] = medianRecord(records.map((r) => r[key]));
  return out;
}

interface Outcome {
  scenario: Scenario;
  runs: Json[];
  /** The repeat round of each run (runs of one round ran back to back). */
  rounds: number[];
  errors: string[];
  skipped: boolean;
}

/**
 * calls/s of `a` ÷ calls/s of `b`, paired by round (the two ran seconds apart, so a load
 * change on the machine affects both): the median and range of the per-round ratios.
 */
function pairedRatio(a: Outcome, b: Outcome): { median: number; min: number; max: number } {
  const ratios: number[] = [];
  a.rounds.forEach((round, i) => {
    const j = b.rounds.indexOf(round);
    if (j >= 0) ratios.push(a.runs[i].callsPerSec / b.runs[j].callsPerSec);
  });
  if (ratios.length === 0) {
    const r = median(a.runs.map((x) => x.callsPerSec)) / median(b.runs.map((x) => x.callsPerSec));
    ratios.push(r);
  }
  return {
    median: round2(median(ratios)),
    min: round2(Math.min(...ratios)),
    max: round2(Math.max(...ratios)),
  };
}

function summaryLine(o: Outcome, byName: Map<string, Outcome>): Json {
  const sc = o.scenario;
  if (o.skipped) return { name: sc.name, skipped: true };
  if (o.runs.length === 0) return { name: sc.name, error: o.errors[0] };
  const m = medianRecord(o.runs);
  if (sc.kind === "outstanding" || sc.kind === "idle") return { name: sc.name, ...m };
  if (sc.kind === "alloc") {
    const bytes = o.runs.map((r) => r.heapBytesPerCall as number);
    return {
      name: sc.name,
      ...m,
      heapBytesMin: Math.min(...bytes),
      heapBytesMax: Math.max(...bytes),
    };
  }
  const cps = o.runs.map((r) => r.callsPerSec as number);
  const line: Json = {
    name: sc.name,
    runs: o.runs.length,
    callsPerSec: Math.round(m.callsPerSec),
    callsPerSecMin: Math.round(Math.min(...cps)),
    callsPerSecMax: Math.round(Math.max(...cps)),
    p50Us: Math.round(m.p50Us),
    p99Us: Math.round(m.p99Us),
    maxUs: Math.round(m.maxUs),
    cpuPer100k: { caller: round2(m.cpuPer100k.caller), provider: round2(m.cpuPer100k.provider) },
    rssMiB: {
      caller: { start: mib(m.rss.caller.start), end: mib(m.rss.caller.end) },
      provider: { start: mib(m.rss.provider.start), end: mib(m.rss.provider.end) },
    },
  };
  if (sc.impl === "mprpc") {
    const shapeKey = `${sc.shape} ${sc.conns}x${sc.depth}`;
    for (const ceiling of ["ceiling-proto", "ceiling-bytes", "ceiling-proto-copy"] as const) {
      const c = byName.get(`${ceiling} ${shapeKey}`);
      if (c && c.runs.length > 0) {
        const r = pairedRatio(o, c);
        const key = ceiling === "ceiling-proto"
          ? "ratioToProtoCeiling"
          : ceiling === "ceiling-bytes"
          ? "ratioToBytesCeiling"
          : "ratioToCopyCeiling";
        line[key] = r.median;
        line[`${key}Range`] = [r.min, r.max];
      }
    }
    const plain = byName.get(`mprpc ${shapeKey}`);
    if (sc.variant !== undefined && plain && plain.runs.length > 0) {
      const r = pairedRatio(o, plain);
      line.ratioToPlainMprpc = r.median;
      line.ratioToPlainMprpcRange = [r.min, r.max];
    }
    const off = byName.get(`mprpc metrics=off ${shapeKey}`);
    if (sc.variant === "metrics" && off && off.runs.length > 0) {
      const r = pairedRatio(o, off);
      line.ratioToMetricsOff = r.median;
      line.ratioToMetricsOffRange = [r.min, r.max];
    }
  }
  if (sc.impl === "grpc-js") {
    const mprpc = byName.get(`mprpc ${sc.shape} ${sc.conns}x${sc.depth}`);
    if (mprpc && mprpc.runs.length > 0) {
      const r = pairedRatio(mprpc, o);
      line.mprpcToGrpcJs = r.median;
      line.mprpcToGrpcJsRange = [r.min, r.max];
    }
  }
  if (o.errors.length > 0) line.failedRuns = o.errors.length;
  if (m.logBytes !== undefined) line.logBytes = m.logBytes;
  if (m.series) line.series = o.runs[0].series;
  return line;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const mib = (b: number) => Math.round((b / (1024 * 1024)) * 10) / 10;

// ---------------------------------------------------------------------------------------------
// RESULTS.md

async function machineInfo(): Promise<Record<string, string>> {
  let cpu = "unknown CPU";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = info.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpu;
  } catch { /* not Linux */ }
  let nproc = String(navigator.hardwareConcurrency);
  try {
    const out = await new Deno.Command("nproc", { stdout: "piped", stderr: "null" }).output();
    if (out.success) nproc = new TextDecoder().decode(out.stdout).trim();
  } catch { /* no nproc */ }
  return {
    nproc,
    cpu,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: `${Deno.version.deno} (V8 ${Deno.version.v8})`,
  };
}

async function loadAvg(): Promise<string> {
  try {
    return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return "–";
  return n.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** A ratio with its range over the rounds, when there was more than one. */
function ratioCell(ratio: number | undefined, range: [number, number] | undefined): string {
  if (ratio === undefined) return "";
  if (!range || range[0] === range[1]) return `**${fmt(ratio)}**`;
  return `**${fmt(ratio)}** (${fmt(range[0])}–${fmt(range[1])})`;
}

function resultsMarkdown(
  lines: Json[],
  machine: Record<string, string>,
  meta: { date: string; command: string; loadStart: string; loadEnd: string; seconds: number },
): string {
  const out: string[] = [];
  out.push("# mprpc benchmark results", "");
  out.push(
    `Generated by \`${meta.command}\` on ${meta.date} (${Math.round(meta.seconds)} s in all).`,
    "",
  );
  out.push(
    `Machine: \`nproc\` = ${machine.nproc}, ${machine.cpu}, ${machine.os}; Deno ${machine.deno}. ` +
      `Load average at start ${meta.loadStart}, at end ${meta.loadEnd} (a shared machine: other ` +
      "work ran at the same time, so absolute numbers are noisy; compare ratios).",
    "",
  );
  out.push(
    `Method: provider and caller in separate processes on 127.0.0.1; closed loop (each worker ` +
      `awaits its call, then issues the next); ${warmupMs / 1000} s warm-up, then ` +
      `${durationMs / 1000} s measured; ${repeat} run(s) per scenario, interleaved, median shown ` +
      "(calls/s range = min–max over runs). CPU = user+system seconds of each whole process " +
      "(/proc/<pid>/stat) per 100,000 calls; RSS = VmRSS before the warm-up → end of the window." +
      (pin === undefined
        ? ""
        : ` Provider and caller pinned (\`--pin ${pin}\`): ${
          pin === "same" ? "both on CPU 0" : "provider on CPU 0, caller on CPU 1"
        } (except the \`workers=N\` scenarios, whose provider needs every core).`),
    "",
  );
  out.push(
    `Shapes: \`small\` = fixbug.UserServiceRpc.Login, ${SIZES.smallRequest}-byte LoginRequest ` +
      `(two \`bytes\` fields), ${SIZES.smallResponse}-byte LoginResponse; \`64k\` = ` +
      `mprpcbench.Bench.Echo of a Blob with a 65,536-byte \`bytes\` field each way ` +
      `(${SIZES.bigRequest} bytes encoded). \`1x1\`, \`1x64\` = one ` +
      "connection with 1 / 64 calls outstanding; `8x16` = 8 connections (8 RpcChannel instances — " +
      "or 8 raw sockets — in one caller process) × 16 outstanding.",
    "",
  );
  out.push(
    "Ceilings: a raw Deno TCP echo server and client (bench/_echo_server.ts, " +
      "bench/_echo_client.ts; 4-byte length framing, TCP_NODELAY, a reused 256 KiB read buffer, " +
      "all frames of a tick coalesced into one write) with the same shapes: `ceiling-bytes` moves " +
      "bytes only; `ceiling-proto` also does mprpc's protobufjs work at both ends (client: " +
      "fromObject+encode request, decode+toObject response; server: decode+toObject request, " +
      "fromObject+encode response). ceiling-proto decodes each message as a view into its reused " +
      "read buffer, which is only sound because it drops the message at once; " +
      "`ceiling-proto-copy` (64k shapes) decodes a copy instead, so the message owns its bytes " +
      "as mprpc's must (a handler or caller may keep them). `vs proto` = mprpc calls/s ÷ " +
      "ceiling-proto calls/s of the same shape, computed per round (the two ran seconds apart) " +
      "and shown as the median (min–max over rounds); `vs bytes` and `vs copy` likewise for " +
      "ceiling-bytes and ceiling-proto-copy; `vs mprpc` = a variant's calls/s ÷ plain `mprpc` " +
      "of the same shape.",
    "",
  );
  out.push("## Throughput and latency", "");
  out.push(
    "| scenario | calls/s | range | vs proto | vs bytes | vs copy | vs mprpc | p50 µs | p99 µs | max µs | CPU s/100k caller | CPU s/100k provider | RSS MiB caller | RSS MiB provider |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  );
  for (const l of lines) {
    if (
      l.memory || l.outstanding !== undefined || l.idleConnections !== undefined ||
      l.heapBytesPerCall !== undefined || l.name.startsWith("alloc ")
    ) {
      continue;
    }
    if (l.skipped || l.error) {
      out.push(`| ${l.name} | ${l.skipped ? "skipped" : "error"} | | | | | | | | | | | | |`);
      continue;
    }
    out.push(
      `| ${l.name}${l.failedRuns ? ` (${l.failedRuns} run(s) failed)` : ""} | ` +
        `${fmt(l.callsPerSec)} | ${fmt(l.callsPerSecMin)}–${fmt(l.callsPerSecMax)} | ` +
        `${ratioCell(l.ratioToProtoCeiling, l.ratioToProtoCeilingRange)} | ` +
        `${ratioCell(l.ratioToBytesCeiling, l.ratioToBytesCeilingRange)} | ` +
        `${ratioCell(l.ratioToCopyCeiling, l.ratioToCopyCeilingRange)} | ` +
        `${ratioCell(l.ratioToPlainMprpc, l.ratioToPlainMprpcRange)} | ` +
        `${fmt(l.p50Us)} | ${fmt(l.p99Us)} | ${fmt(l.maxUs)} | ${fmt(l.cpuPer100k.caller)} | ` +
        `${fmt(l.cpuPer100k.provider)} | ${l.rssMiB.caller.start} → ${l.rssMiB.caller.end} | ` +
        `${l.rssMiB.provider.start} → ${l.rssMiB.provider.end} |`,
    );
  }
  const grpc = lines.filter((l) => l.name.startsWith("grpc-js ") && l.callsPerSec !== undefined);
  if (grpc.length > 0) {
    out.push("", "## mprpc vs @grpc/grpc-js", "");
    out.push(
      "| shape | mprpc calls/s | grpc-js calls/s | mprpc ÷ grpc-js | grpc-js p50 µs | grpc-js p99 µs |",
      "|---|--:|--:|--:|--:|--:|",
    );
    for (const g of grpc) {
      const at = g.name.slice("grpc-js ".length);
      const m = lines.find((l) => l.name === `mprpc ${at}`);
      out.push(
        `| ${at} | ${fmt(m?.callsPerSec)} | ${fmt(g.callsPerSec)} | ` +
          `${ratioCell(g.mprpcToGrpcJs, g.mprpcToGrpcJsRange)} | ${fmt(g.p50Us)} | ` +
          `${fmt(g.p99Us)} |`,
      );
    }
  }
  out.push("", "## Memory", "");
  for (const l of lines) {
    if (l.outstanding !== undefined) {
      out.push(
        `- **${l.name}**: ${fmt(l.outstanding)} \`Wait\` calls (provider answers each after ` +
          `200 ms) issued at once on one connection, all done in ${fmt(l.allDoneMs)} ms. Caller ` +
          `RSS ${l.callerRssMiB.base} MiB before → peak ${l.callerRssMiB.peak} MiB → ` +
          `${l.callerRssMiB.end} MiB after (≈ ${fmt(l.callerBytesPerCall)} bytes per ` +
          `outstanding call; JS heap ${l.callerHeapMiB.base} → peak ${l.callerHeapMiB.peak} MiB). ` +
          `Provider RSS ${l.providerRssMiB.base} → peak ${l.providerRssMiB.peak} MiB.`,
      );
    } else if (l.idleConnections !== undefined) {
      out.push(
        `- **${l.name}**: ${fmt(l.idleConnections)} RpcChannel instances in one caller process, ` +
          `each made one Login call, then idle 0.5 s. Provider RSS ${l.providerRssMiB.base} → ` +
          `${l.providerRssMiB.end} MiB (≈ ${fmt(l.providerBytesPerConnection)} bytes per ` +
          `connection); caller RSS ${l.callerRssMiB.base} → ${l.callerRssMiB.end} MiB.`,
      );
    } else if (l.series) {
      const first = l.series[0];
      const last = l.series[l.series.length - 1];
      out.push(
        `- **${l.name}**: ${fmt(l.callsPerSec)} calls/s; RSS at start caller ` +
          `${first.callerRssMiB} / provider ${first.providerRssMiB} MiB, at end ` +
          `${last.callerRssMiB} / ${last.providerRssMiB} MiB (samples: ${
            l.series.map((s: Json) => `${s.t}s ${s.callerRssMiB}/${s.providerRssMiB}`).join(", ")
          }).`,
      );
    } else if (l.error && (l.name.startsWith("mem") || l.name.startsWith("soak"))) {
      out.push(`- **${l.name}**: error: ${l.error}`);
    }
  }
  if (!soak) out.push("- 60 s soak: not run (pass `--soak`).");
  const allocs = lines.filter((l) => l.name.startsWith("alloc "));
  if (allocs.length > 0) {
    out.push("", "## Allocations per call", "");
    out.push(
      `JS heap bytes allocated per call by the caller process, small 1x64: ${fmt(ALLOC_CALLS)} ` +
        `calls warm up, \`gc()\`, then ${fmt(ALLOC_CALLS)} calls counted as the growth of ` +
        "V8's `heapUsed` with no collection in between (`--v8-flags=" + ALLOC_V8_FLAGS + "`; " +
        "a run in which a collection ran fails). Both sides include the closed loop's own " +
        "per-call cost. ArrayBuffer backing stores outside the heap are not counted.",
      "",
      "| scenario | bytes/call | range |",
      "|---|--:|--:|",
    );
    for (const l of allocs) {
      if (l.heapBytesPerCall === undefined) {
        out.push(`| ${l.name} | ${l.skipped ? "skipped" : `error: ${l.error}`} | |`);
        continue;
      }
      out.push(
        `| ${l.name} | ${fmt(Math.round(l.heapBytesPerCall))} | ${fmt(l.heapBytesMin)}–${
          fmt(l.heapBytesMax)
        } |`,
      );
    }
  }
  out.push("", "## Notes", "");
  for (const n of notes) out.push(`- ${n}`);
  out.push("");
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Main

const started = performance.now();
const machine = await machineInfo();
const loadStart = await loadAvg();
const all = scenarios();
const selected = only ? all.filter((s) => only.some((o) => s.name.includes(o))) : all;
if (selected.length === 0) {
  throw new TypeError(
    `--only ${flags.get("only")} matches none of: ${all.map((s) => s.name).join(", ")}`,
  );
}
notes.push(
  "`mprpc+zk`: the provider registers in a real ZooKeeper (startZooKeeper() from " +
    "src/testing/) and the caller resolves it through `ZooKeeperRegistry`; after the first " +
    "resolve, calls do not touch ZooKeeper. Skipped when no ZooKeeper is installed.",
);
notes.push(
  "`mprpc workers=N`: RpcProvider's `workers` option (N event loops on one port with " +
    "SO_REUSEPORT; services added by bench/_bench_services.ts as `workerModule`), 8x16 so the " +
    "kernel can spread the 8 connections; provider CPU counts every thread of its process.",
);
notes.push(
  "8x16 uses 8 RpcChannel instances in one caller process (one connection each); the raw " +
    "ceiling client likewise opens 8 sockets in one process.",
);
notes.push(
  "`mprpc+log` gives both sides an AsyncLogger at INFO writing to a temp dir; the provider logs " +
    "one line per call in the handler. Compare it with `mprpc small 1x64`.",
);
notes.push(
  "`mprpc+loan` (64k shapes): the provider runs with `lendRequestBytes: true` and every call " +
    "passes its own `BufferLoan` (released when the call returns), so both ends decode the " +
    "64 KiB field as a view into a receive buffer that is given back and reused, as " +
    "ceiling-proto decodes into its read buffer.",
);
for (const n of notes) console.error(`note: ${n}`);

if (selected.some((s) => s.impl === "grpc-js")) {
  await prepareGrpc();
  console.error(`note: ${notes.at(-1)}`);
}

const outcomes = new Map<string, Outcome>();
for (const sc of selected) {
  outcomes.set(sc.name, { scenario: sc, runs: [], rounds: [], errors: [], skipped: false });
}
let profileDir = flags.get("profile-dir");
if (profileRole && !profileDir) {
  profileDir = await Deno.makeTempDir({ prefix: "mprpc_bench_prof_" });
}
if (profileDir) await Deno.mkdir(profileDir, { recursive: true });

let failed = 0;
try {
  const total = selected.length * repeat;
  let i = 0;
  for (let r = 0; r < repeat; r++) {
    for (const sc of selected) {
      i++;
      const o = outcomes.get(sc.name)!;
      if (o.skipped) continue;
      try {
        const res = await runOnce(sc, profileDir);
        if (res.skipped) {
          o.skipped = true;
          console.error(`[${i}/${total}] ${sc.name}: skipped`);
          continue;
        }
        o.runs.push(res);
        o.rounds.push(r);
        console.error(
          `[${i}/${total}] ${sc.name}: ` +
            (res.callsPerSec !== undefined
              ? `${fmt(Math.round(res.callsPerSec))} calls/s, p50 ${
                fmt(Math.round(res.p50Us))
              } µs, ` +
                `p99 ${fmt(Math.round(res.p99Us))} µs`
              : JSON.stringify(res)),
        );
      } catch (e) {
        failed++;
        o.errors.push(e instanceof Error ? e.message : String(e));
        console.error(`[${i}/${total}] ${sc.name}: FAILED: ${o.errors.at(-1)}`);
      }
    }
  }
} finally {
  await stopAll();
  if (zkServer) {
    await within(zkServer.stop(), 20_000, "stopping ZooKeeper").catch((e) => {
      console.error(`warning: ${e.message}`);
    });
  }
}

const lines = [...outcomes.values()].map((o) => summaryLine(o, outcomes));
for (const l of lines) console.log(JSON.stringify(l));

// The in-process micro-benchmarks (`deno bench`): the logger's caller-side cost and disk rate,
// and the hot pieces of the call path. Skipped with --only.
let micro = "";
if (!only) {
  console.error("running deno bench bench/log_bench.ts bench/micro_bench.ts ...");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "bench/log_bench.ts", "bench/micro_bench.ts", "bench/typed_bench.ts"],
    cwd: new URL("..", HERE).pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  // Paths relative to the repository, whichever checkout ran it.
  micro = new TextDecoder().decode(out.stdout).trim()
    .replaceAll(new URL("..", HERE).href, "");
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim();
    console.error(why);
    failed++;
    // A failed run is said so, not published as if its partial tables were complete.
    micro =
      `deno bench FAILED (exit ${out.code}); what it printed before failing:\n\n${micro}\n\n` +
      why.split("\n").slice(-20).join("\n");
  }
  console.error(micro);
}

if (outPath) {
  let md = resultsMarkdown(lines, machine, {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    command: ["deno task bench", ...Deno.args.map((a) => (/\s/.test(a) ? `"${a}"` : a))].join(" "),
    loadStart,
    loadEnd: await loadAvg(),
    seconds: (performance.now() - started) / 1000,
  });
  if (micro) {
    md += "\n\n## Micro-benchmarks (`deno bench bench/log_bench.ts bench/micro_bench.ts`)\n\n" +
      "In-process, no sockets except where named: the logger's `info()` cost on the caller's " +
      "thread and its lines/s to disk, and the call path's hot pieces.\n\n```\n" + micro +
      "\n```\n";
  }
  await Deno.writeTextFile(outPath, md);
  console.error(`wrote ${outPath}`);
  // Streams (one way, messages/s vs ceiling-proto; bidi ping-pong latency vs ceiling-pingpong;
  // with --soak, a memory soak too): their own
  // section of the same file, written by bench/stream_bench.ts.
  console.error("running bench/stream_bench.ts ...");
  const streams = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("stream_bench.ts", HERE).pathname,
      "--duration",
      String(durationMs / 1000),
      "--repeat",
      String(Math.max(repeat, 3)),
      ...(soak ? ["--soak-duration", String(soakMs / 1000)] : ["--no-soak"]),
      "--out",
      outPath,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!streams.success) failed++;
}

if (profileDir && profileRole) {
  for (const f of await profileFiles(profileDir)) {
    const profile = JSON.parse(await Deno.readTextFile(f));
    console.error(formatSummary(`${profileRole} ${f}`, summarize(profile, 30)));
  }
}

Deno.removeSignalListener("SIGINT", onSignal);
Deno.removeSignalListener("SIGTERM", onSignal);
console.error(`done in ${Math.round((performance.now() - started) / 1000)} s`);
Deno.exit(failed > 0 ? 1 : 0);
