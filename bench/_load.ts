/**
 * The closed-loop load generator shared by the mprpc caller and the raw echo client: `depth`
 * workers per connection, each awaiting its call before issuing the next, a warm-up, then a
 * measured window with a latency histogram and CPU/RSS samples of both processes.
 *
 * @module
 */
import { sample } from "./_proc.ts";

/**
 * Latency histogram: 0.1 µs buckets below 100 µs, then 1 % wide buckets up to ~10 s.
 *
 * @example
 * ```ts ignore
 * const h = new Histogram();
 * h.record(42.5);
 * console.log(h.quantile(0.99), h.max);
 * ```
 */
export class Histogram {
  #counts = new Float64Array(1000 + 1200);
  #n = 0;
  #max = 0;

  /** Records one latency, µs. */
  record(us: number): void {
    const i = us < 100 ? Math.floor(us * 10) : 1000 + Math.floor(Math.log(us / 100) / LOG_STEP);
    this.#counts[Math.min(i, this.#counts.length - 1)]!++;
    this.#n++;
    if (us > this.#max) this.#max = us;
  }

  /** Latencies recorded. */
  get count(): number {
    return this.#n;
  }

  /** Largest latency recorded, µs. */
  get max(): number {
    return this.#max;
  }

  /** The `q` quantile (0..1), µs, to the bucket's precision. */
  quantile(q: number): number {
    if (this.#n === 0) return 0;
    const rank = Math.ceil(q * this.#n);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        const v = i < 1000 ? (i + 0.5) / 10 : 100 * Math.exp((i - 1000 + 0.5) * LOG_STEP);
        return Math.min(v, this.#max);
      }
    }
    return this.#max;
  }
}

const LOG_STEP = Math.log(1.01);

/** Options of {@linkcode closedLoop}. */
export interface LoadOptions {
  /** Calls outstanding per connection. */
  depth: number;
  /** Load before the measured window, ms. */
  warmupMs: number;
  /** The measured window, ms. */
  durationMs: number;
  /** The server's pid, whose CPU and RSS are sampled with ours. */
  peerPid?: number | undefined;
}

/** What one closed-loop run measured. */
export interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** CPU seconds per 100,000 calls in the window: this process (caller) and the peer (server). */
  cpuPer100k: { caller: number; provider: number };
  /** Resident memory, bytes, before the warm-up and at the end of the window. */
  rss: { caller: { start: number; end: number }; provider: { start: number; end: number } };
  firstError?: string;
}

/**
 * Runs `options.depth` closed-loop workers on each of `lanes` (one call function per
 * connection) through a warm-up and a measured window, then waits for calls in flight.
 *
 * @example
 * ```ts ignore
 * const result = await closedLoop([() => stub.Login!(req)], { depth: 64, warmupMs: 300, durationMs: 1000 });
 * console.log(result.callsPerSec, result.p99Us);
 * ```
 */
export async function closedLoop(
  lanes: Array<() => Promise<unknown>>,
  options: LoadOptions,
): Promise<LoadResult> {
  const hist = new Histogram();
  let phase = 0; // 0 warm-up, 1 measuring, 2 stopping
  let errors = 0;
  let firstError: string | undefined;
  const start = sample(options.peerPid);
  let begin = start;
  let beginAt = 0;

  const worker = async (call: () => Promise<unknown>) => {
    while (phase < 2) {
      const t0 = performance.now();
      try {
        await call();
      } catch (e) {
        errors++;
        firstError ??= String(e);
        if (errors > 1000) throw e;
        continue;
      }
      if (phase === 1) hist.record((performance.now() - t0) * 1000);
    }
  };

  let warmTimer: ReturnType<typeof setTimeout> | undefined;
  let endTimer: ReturnType<typeof setTimeout> | undefined;
  const ended = new Promise<{ at: number; s: ReturnType<typeof sample> }>((resolve) => {
    warmTimer = setTimeout(() => {
      begin = sample(options.peerPid);
      beginAt = performance.now();
      phase = 1;
      endTimer = setTimeout(() => {
        const s = sample(options.peerPid);
        const at = performance.now();
        phase = 2;
        resolve({ at, s });
      }, options.durationMs);
    }, options.warmupMs);
  });
  const workers: Promise<void>[] = [];
  for (const lane of lanes) {
    for (let i = 0; i < options.depth; i++) workers.push(worker(lane));
  }
  let end;
  try {
    end = await Promise.race([
      ended,
      Promise.all(workers).then(() => {
        throw new Error(`workers stopped early: ${firstError}`);
      }),
    ]);
  } finally {
    phase = 2;
    clearTimeout(warmTimer);
    clearTimeout(endTimer);
    await Promise.allSettled(workers);
  }
  const seconds = (end.at - beginAt) / 1000;
  const calls = hist.count;
  const per100k = (cpu: number) => (calls > 0 ? (cpu / calls) * 100_000 : 0);
  return {
    calls,
    errors,
    seconds,
    callsPerSec: calls / seconds,
    p50Us: hist.quantile(0.5),
    p99Us: hist.quantile(0.99),
    maxUs: hist.max,
    cpuPer100k: {
      caller: per100k(end.s.selfCpu - begin.selfCpu),
      provider: per100k(end.s.peerCpu - begin.peerCpu),
    },
    rss: {
      caller: { start: start.selfRss, end: end.s.selfRss },
      provider: { start: start.peerRss, end: end.s.peerRss },
    },
    ...(firstError ? { firstError } : {}),
  };
}

/**
 * Parses `--key value`, `--key=value` and `--flag` arguments into a map.
 *
 * @example
 * ```ts ignore
 * parseFlags(["--depth", "64", "--quick"]); // Map { "depth" => "64", "quick" => "true" }
 * ```
 */
export function parseFlags(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--")) throw new TypeError(`unexpected argument ${JSON.stringify(a)}`);
    const eq = a.indexOf("=");
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) out.set(a.slice(2), args[++i]!);
    else out.set(a.slice(2), "true");
  }
  return out;
}

/**
 * Resolves when this process's stdin ends (the orchestrator closed it or died).
 *
 * @example
 * ```ts ignore
 * await stdinClosed();
 * await provider.close();
 * ```
 */
export async function stdinClosed(): Promise<void> {
  try {
    for await (const _ of Deno.stdin.readable) { /* nothing is sent; only EOF matters */ }
  } catch { /* a closed stdin is as good as EOF */ }
}

/**
 * Prints one JSON line on stdout, the channel to the orchestrator.
 *
 * @example
 * ```ts ignore
 * emit({ ready: true, port: 8000, pid: Deno.pid });
 * ```
 */
export function emit(value: unknown): void {
  console.log(JSON.stringify(value));
}

/** What {@linkcode allocationsPerCall} measured. */
export interface AllocationResult {
  /** Calls measured (after as many unmeasured ones). */
  calls: number;
  /**
   * JS heap bytes allocated per call (V8's `heapUsed` growth with no collection in between).
   * ArrayBuffer backing stores outside the heap (typed arrays over 64 bytes) are not counted.
   */
  heapBytesPerCall: number;
}

/**
 * Counts the bytes one call allocates: runs `calls` calls (`depth` outstanding per lane) to warm
 * up, collects garbage, then runs `calls` more and reads how far the heap grew. Needs
 * `--v8-flags=--expose-gc` and a young generation large enough that the measured calls trigger
 * no collection (`--min-semi-space-size=N,--max-semi-space-size=N`, N MiB over the bytes
 * measured); a heap that shrank means a collection ran, and is reported as an error.
 *
 * @example
 * ```ts ignore
 * const r = await allocationsPerCall([() => stub.Login!(req)], 64, 20_000);
 * console.log(r.heapBytesPerCall);
 * ```
 */
export async function allocationsPerCall(
  lanes: Array<() => Promise<unknown>>,
  depth: number,
  calls: number,
): Promise<AllocationResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("allocationsPerCall needs --v8-flags=--expose-gc");
  const run = async () => {
    let left = calls;
    const worker = async (call: () => Promise<unknown>) => {
      while (left > 0) {
        left--;
        await call();
      }
    };
    const workers: Promise<void>[] = [];
    for (const lane of lanes) for (let i = 0; i < depth; i++) workers.push(worker(lane));
    await Promise.all(workers);
  };
  await run();
  gc();
  const before = Deno.memoryUsage();
  await run();
  const after = Deno.memoryUsage();
  if (after.heapUsed < before.heapUsed) {
    throw new Error("a garbage collection ran while counting: give V8 a larger young generation");
  }
  return {
    calls,
    heapBytesPerCall: Math.round((after.heapUsed - before.heapUsed) / calls),
  };
}
