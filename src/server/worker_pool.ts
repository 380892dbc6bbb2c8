/**
 * Multi-core serving: N-1 Workers each run a provider on the same port as the main one, with
 * `SO_REUSEPORT` so the kernel spreads connections over them (the original's muduo used one
 * event loop per thread). Needs `--unstable-net` (Linux, macOS).
 *
 * What reaches a Worker's provider: the options in {@linkcode WORKER_OPTION_ROLES} marked
 * `"travels"`, the log lines (sent back to the main provider's logger), and whatever the worker
 * module's `setup(provider)` adds (services, interceptors). Functions cannot cross a Worker
 * boundary, so options holding them are refused by {@linkcode workerOptions}.
 *
 * What comes back: log lines, and each Worker's metrics (its counters and last slow or failed
 * calls) every {@linkcode WORKER_METRICS_INTERVAL_MS} and once more after its provider closed;
 * {@linkcode WorkerPool.metrics} holds the latest of each Worker with its event loop number
 * (Worker k, named `mprpc-provider-k`, is loop k; the main thread is loop 0), the main provider
 * adds them to its own.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import { deliverPostedLog, isPostedLog, type PostedLogLine } from "../log/_posted_logger.ts";
import type { WorkerMetrics } from "../observe/merge_snapshots.ts";
import type { RpcProviderOptions } from "./rpc_provider_options.ts";

/**
 * What becomes of each provider option when `workers > 1`:
 * - `travels`: copied to every Worker's provider (the limits and timeouts apply per event loop);
 * - `main`: used by the main thread only (listening address, registration, the pool itself);
 * - `logs`: the logger stays on the main thread and Workers send it their log lines;
 * - `refused`: cannot reach a Worker, so `start()` throws when it is set.
 *
 * Every option must be listed here (the type checker enforces it), so a new option cannot be
 * forgotten on the Worker side.
 */
export const WORKER_OPTION_ROLES = {
  host: "main",
  port: "main",
  registry: "main",
  advertiseHost: "main",
  weight: "main",
  workers: "main",
  workerModule: "main",
  admin: "main",
  metrics: "travels",
  reusePort: "main",
  logger: "logs",
  interceptors: "refused",
  tls: "refused",
  maxMessageBytes: "travels",
  maxConnections: "travels",
  maxInflightPerConnection: "travels",
  maxStreamsPerConnection: "travels",
  slowCallMs: "travels",
  lendRequestBytes: "travels",
  maxUnsentBytes: "travels",
  maxPendingTlsHandshakes: "main",
  idleTimeoutMs: "travels",
  readTimeoutMs: "travels",
  legacy: "travels",
  health: "travels",
  reflection: "travels",
} as const satisfies Record<keyof RpcProviderOptions, "travels" | "main" | "logs" | "refused">;

type Roles = typeof WORKER_OPTION_ROLES;
type Travelling = { [K in keyof Roles]: Roles[K] extends "travels" ? K : never }[keyof Roles];

/** Options a Worker's provider is created with (no functions: they cross a Worker boundary). */
export type WorkerProviderOptions = Pick<RpcProviderOptions, Travelling>;

/**
 * The options of `o` that travel to every Worker.
 *
 * @throws {TypeError} when `o` holds an option that cannot reach a Worker (`interceptors`, `tls`).
 */
export function workerOptions(o: RpcProviderOptions): WorkerProviderOptions {
  if (o.tls) throw new TypeError("workers > 1 cannot be combined with tls yet");
  if (o.interceptors !== undefined && o.interceptors.length > 0) {
    throw new TypeError(
      "workers > 1 cannot take the interceptors option: functions cannot reach a Worker, so " +
        "the Workers would serve calls without them. Add them in the worker module's " +
        "setup(provider) with provider.use(...interceptors): setup runs on every event loop",
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, role] of Object.entries(WORKER_OPTION_ROLES)) {
    const value = o[key as keyof RpcProviderOptions];
    if (role === "travels" && value !== undefined) out[key] = value;
  }
  return out as WorkerProviderOptions;
}

/** First message to a Worker. */
export interface WorkerInit {
  type: "init";
  module: string;
  host: string;
  port: number;
  options: WorkerProviderOptions;
  /** Send log lines to the main thread's logger instead of logging in the Worker. */
  forwardLogs: boolean;
  /** Post the provider's metrics this often (ms), and once more after it closed. */
  metricsIntervalMs: number;
}

/**
 * How often (ms) a provider Worker posts its metrics to the main thread: while a provider with
 * `workers > 1` runs, its Workers' share of `provider.metrics()` is at most this old.
 */
export const WORKER_METRICS_INTERVAL_MS = 1000;

/** Messages from a Worker. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "closed" }
  | { type: "error"; message: string }
  | { type: "metrics"; metrics: WorkerMetrics }
  | PostedLogLine;

/** The latest metrics a Worker posted, with the event loop it runs: Worker k is loop k. */
export interface LoopMetrics extends WorkerMetrics {
  /** The Worker's event loop number, 1..count (0 is the main thread's). */
  loop: number;
}

type Control = Exclude<WorkerReply, PostedLogLine | { type: "metrics" }>;

/** One Worker and the reply it is awaited for. */
class PoolWorker {
  readonly name: string;
  readonly worker: Worker;
  #waiting: ((reply: Control) => void) | undefined;

  constructor(
    url: URL,
    name: string,
    logger: Logger,
    onMetrics: (metrics: WorkerMetrics) => void,
  ) {
    this.name = name;
    this.worker = new Worker(url, { type: "module", name });
    this.worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const m = e.data;
      if (isPostedLog(m)) {
        deliverPostedLog(logger, { ...m, fields: { ...m.fields, worker: name } });
        return;
      }
      if (m.type === "metrics") {
        onMetrics(m.metrics);
        return;
      }
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.(m);
    };
    this.worker.onerror = (e) => {
      e.preventDefault(); // an uncaught error in a Worker must not end the main thread
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) waiting({ type: "error", message: e.message });
      else logger.error("provider Worker failed", { worker: name, error: e.message });
    };
  }

  /** Posts `message` and resolves with the Worker's next control reply. */
  request(message: unknown): Promise<Control> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
      this.worker.postMessage(message);
    });
  }
}

/**
 * How long a Worker may take to import the worker module, run its `setup(provider)` and start
 * listening before `start()` gives up on the pool.
 */
export const DEFAULT_WORKER_START_TIMEOUT_MS = 30_000;

/** The extra Workers of a multi-core provider. */
export class WorkerPool {
  #workers: PoolWorker[] = [];
  /** The latest metrics of each Worker, by loop; kept after `close()` (the final counts). */
  #metrics = new Map<number, LoopMetrics>();

  /**
   * Starts `count` Workers serving `module` on `host:port`; rejects (after terminating every
   * Worker) if any fails. `logger` receives the Workers' failures and, with `forwardLogs`,
   * every line their providers log (with a `worker` field naming the Worker). The Workers post
   * their metrics every `init.metricsIntervalMs` (default {@linkcode WORKER_METRICS_INTERVAL_MS}).
   */
  async start(
    count: number,
    init: Omit<WorkerInit, "type" | "metricsIntervalMs"> & { metricsIntervalMs?: number },
    logger: Logger,
    startTimeoutMs: number = DEFAULT_WORKER_START_TIMEOUT_MS,
  ): Promise<void> {
    const url = new URL("./_provider_worker.ts", import.meta.url);
    const started: Promise<Control>[] = [];
    for (let i = 0; i < count; i++) {
      const loop = i + 1;
      const name = `mprpc-provider-${loop}`;
      const w = new PoolWorker(url, name, logger, (m) => this.#metrics.set(loop, { ...m, loop }));
      this.#workers.push(w);
      started.push(w.request(
        {
          type: "init",
          metricsIntervalMs: WORKER_METRICS_INTERVAL_MS,
          ...init,
        } satisfies WorkerInit,
      ));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<Control>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            type: "error",
            message: `setup(provider) or listening did not finish within ${startTimeoutMs} ms`,
          }),
        startTimeoutMs,
      );
    });
    const replies = await Promise.all(started.map((s) => Promise.race([s, timedOut])));
    clearTimeout(timer);
    const failed = replies.findIndex((r) => r.type === "error");
    if (failed >= 0) {
      const name = this.#workers[failed]!.name;
      const reply = replies[failed] as { message: string };
      await this.close(0);
      throw new Error(`Provider Worker ${name} failed to start: ${reply.message}`);
    }
  }

  /** Tells every Worker's provider to turn its health to `serving` (no reply awaited). */
  setServing(serving: boolean): void {
    for (const w of this.#workers) w.worker.postMessage({ type: "serving", serving });
  }

  /**
   * The latest metrics each Worker posted (at most `metricsIntervalMs` old while it runs; after
   * `close()`, its final counts unless it had to be terminated), in loop order.
   */
  metrics(): LoopMetrics[] {
    return [...this.#metrics.values()].sort((a, b) => a.loop - b.loop);
  }

  /** Workers running. */
  get size(): number {
    return this.#workers.length;
  }

  /** Closes every Worker's provider (with `graceMs`) and terminates the Workers. */
  async close(graceMs: number): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map(async (w) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        w.request({ type: "close", graceMs }),
        new Promise((r) => timer = setTimeout(r, graceMs + 2000)),
      ]);
      clearTimeout(timer);
      w.worker.terminate();
    }));
  }
}
