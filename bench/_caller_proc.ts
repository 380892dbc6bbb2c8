/**
 * The caller process of the benchmark suite. Prints one JSON line (`{"result":...}` or
 * `{"memory":...}`) and exits.
 *
 * Modes (`--mode`):
 * - `load` (default): `--conns` RpcChannel instances (one connection each) × `--depth` closed-loop
 *   workers calling the `--shape` method; see {@linkcode closedLoop}.
 * - `soak`: like `load`, also sampling both processes' RSS every `--sample-ms`.
 * - `load` with `--alloc-calls N`: counts the bytes allocated per call instead (see
 *   {@linkcode allocationsPerCall}).
 * - `outstanding`: `--count` `Wait` calls outstanding at once on one connection; reports RSS.
 * - `idle`: `--count` channels, each with one connection that made one call, then idle; reports
 *   the provider's RSS.
 *
 * Where: `--address host:port`, or `--zk CONNECT` to resolve through ZooKeeper. `--peer-pid` is
 * the provider's pid (its CPU and RSS are sampled with ours). `--log-dir DIR` gives every channel
 * an AsyncLogger at INFO; `--metrics off` gives every channel `metrics: false`; `--loan true`
 * makes every `load` call with its own {@linkcode BufferLoan}, released when the call returns.
 *
 * @module
 */
import {
  AsyncLogger,
  BufferLoan,
  type Logger,
  RpcChannel,
  type RpcChannelOptions,
  ZooKeeperRegistry,
} from "../mod.ts";
import { allocationsPerCall, closedLoop, emit, parseFlags } from "./_load.ts";
import { sample } from "./_proc.ts";
import { loadShapes, type ShapeName } from "./_shapes.ts";

const flags = parseFlags(Deno.args);
const num = (key: string, dflt: number) => Number(flags.get(key) ?? dflt);
const mode = flags.get("mode") ?? "load";
const shapes = await loadShapes();
const shape = shapes[(flags.get("shape") ?? "small") as ShapeName];
if (!shape) throw new TypeError(`unknown --shape ${flags.get("shape")}`);
const peerPid = flags.has("peer-pid") ? num("peer-pid", 0) : undefined;
const logDir = flags.get("log-dir");
const loaned = flags.get("loan") === "true";
const logger = logDir ? new AsyncLogger({ dir: logDir, level: "INFO" }) : undefined;

const zk = flags.get("zk");
const registry = zk ? new ZooKeeperRegistry({ connect: zk }) : undefined;
const where: RpcChannelOptions = registry
  ? { registry }
  : { address: flags.get("address") ?? "127.0.0.1:0" };

const channels: RpcChannel[] = [];
function channel(extra: RpcChannelOptions = {}): RpcChannel {
  const ch = new RpcChannel({
    ...where,
    ...(logger ? { logger: logger as Logger } : {}),
    ...(flags.get("metrics") === "off" ? { metrics: false } : {}),
    ...extra,
  });
  channels.push(ch);
  return ch;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;

try {
  switch (mode) {
    case "load":
    case "soak":
      await load();
      break;
    case "outstanding":
      await outstanding();
      break;
    case "idle":
      await idle();
      break;
    default:
      throw new TypeError(`unknown --mode ${mode}`);
  }
} finally {
  await Promise.all(channels.map((c) => c.close()));
  await registry?.close();
  await logger?.close();
}
Deno.exit(0);

async function load(): Promise<void> {
  const conns = num("conns", 1);
  const request = shape.request;
  const lanes: Array<() => Promise<unknown>> = [];
  for (let i = 0; i < conns; i++) {
    const fn = channel().stub(shape.service)[shape.method]!;
    lanes.push(
      loaned
        ? async () => {
          // The response's bytes are the connection's until the loan ends with the block.
          using loan = new BufferLoan();
          await fn(request, { loan });
        }
        : () => fn(request),
    );
  }
  await Promise.all(lanes.map((call) => call())); // connect every channel
  const series: Array<{ t: number; callerRssMiB: number; providerRssMiB: number }> = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (mode === "soak") {
    const t0 = performance.now();
    const take = () => {
      const s = sample(peerPid);
      series.push({
        t: Math.round((performance.now() - t0) / 1000),
        callerRssMiB: mib(s.selfRss),
        providerRssMiB: mib(s.peerRss),
      });
    };
    take();
    timer = setInterval(take, num("sample-ms", Math.min(10_000, num("duration-ms", 1000) / 6)));
  }
  if (flags.has("alloc-calls")) {
    emit({ result: await allocationsPerCall(lanes, num("depth", 1), num("alloc-calls", 20_000)) });
    return;
  }
  try {
    const result = await closedLoop(lanes, {
      depth: num("depth", 1),
      warmupMs: num("warmup-ms", 300),
      durationMs: num("duration-ms", 1000),
      peerPid,
    });
    if (mode === "soak") {
      clearInterval(timer);
      const s = sample(peerPid);
      const t = series.length ? Math.round(result.seconds + num("warmup-ms", 300) / 1000) : 0;
      series.push({ t, callerRssMiB: mib(s.selfRss), providerRssMiB: mib(s.peerRss) });
    }
    emit({ result: mode === "soak" ? { ...result, series } : result });
  } finally {
    clearInterval(timer);
  }
}

async function outstanding(): Promise<void> {
  const count = num("count", 10_000);
  const wait = channel({ timeoutMs: 120_000 }).stub(shapes.bench).Wait!;
  await wait({}); // connected and warm
  const base = sample(peerPid);
  const heapBase = Deno.memoryUsage().heapUsed;
  let peakCaller = base.selfRss;
  let peakProvider = base.peerRss;
  let peakHeap = heapBase;
  const take = () => {
    const s = sample(peerPid);
    peakCaller = Math.max(peakCaller, s.selfRss);
    peakProvider = Math.max(peakProvider, s.peerRss);
    peakHeap = Math.max(peakHeap, Deno.memoryUsage().heapUsed);
  };
  const t0 = performance.now();
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) calls.push(wait({}));
  take();
  const timer = setInterval(take, 5);
  const settled = await Promise.allSettled(calls);
  clearInterval(timer);
  take();
  const ms = performance.now() - t0;
  const after = sample(peerPid);
  const failed = settled.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
  emit({
    memory: {
      outstanding: count,
      allDoneMs: Math.round(ms),
      errors: failed.length,
      ...(failed[0] ? { firstError: String(failed[0].reason) } : {}),
      callerRssMiB: { base: mib(base.selfRss), peak: mib(peakCaller), end: mib(after.selfRss) },
      callerHeapMiB: { base: mib(heapBase), peak: mib(peakHeap) },
      providerRssMiB: { base: mib(base.peerRss), peak: mib(peakProvider), end: mib(after.peerRss) },
      callerBytesPerCall: Math.round((peakCaller - base.selfRss) / count),
    },
  });
}

async function idle(): Promise<void> {
  const count = num("count", 1000);
  const request = shapes.small.request;
  const base = sample(peerPid);
  const stubs = [];
  for (let i = 0; i < count; i++) stubs.push(channel().stub(shapes.user).Login!);
  for (let i = 0; i < count; i += 100) {
    await Promise.all(stubs.slice(i, i + 100).map((login) => login(request)));
  }
  await new Promise((r) => setTimeout(r, 500)); // idle
  const after = sample(peerPid);
  emit({
    memory: {
      idleConnections: count,
      providerRssMiB: { base: mib(base.peerRss), end: mib(after.peerRss) },
      callerRssMiB: { base: mib(base.selfRss), end: mib(after.selfRss) },
      providerBytesPerConnection: Math.round((after.peerRss - base.peerRss) / count),
    },
  });
}
