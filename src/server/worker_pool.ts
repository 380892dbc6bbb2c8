/**
 * Multi-core serving: N-1 Workers each run a provider on the same port as the main one, with
 * `SO_REUSEPORT` so the kernel spreads connections over them (the original's muduo used one
 * event loop per thread). Needs `--unstable-net` (Linux, macOS).
 *
 * @module
 */

/** Options a Worker's provider is created with (no functions: they cross a Worker boundary). */
export interface WorkerProviderOptions {
  maxMessageBytes?: number | undefined;
  maxConnections?: number | undefined;
  maxInflightPerConnection?: number | undefined;
  slowCallMs?: number | undefined;
  maxUnsentBytes?: number | undefined;
  idleTimeoutMs?: number | undefined;
  readTimeoutMs?: number | undefined;
  legacy?: boolean | undefined;
}

/** First message to a Worker. */
export interface WorkerInit {
  type: "init";
  module: string;
  host: string;
  port: number;
  options: WorkerProviderOptions;
}

/** Messages from a Worker. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "closed" }
  | { type: "error"; message: string };

function next(worker: Worker): Promise<WorkerReply> {
  return new Promise((resolve) => {
    worker.onmessage = (e) => resolve(e.data as WorkerReply);
    worker.onerror = (e) => {
      e.preventDefault();
      resolve({ type: "error", message: e.message });
    };
  });
}

/** The extra Workers of a multi-core provider. */
export class WorkerPool {
  #workers: Worker[] = [];

  /** Starts `count` Workers serving `module` on `host:port`; rejects if any fails. */
  async start(
    count: number,
    module: string,
    host: string,
    port: number,
    options: WorkerProviderOptions,
  ): Promise<void> {
    const url = new URL("./_provider_worker.ts", import.meta.url);
    const started: Promise<WorkerReply>[] = [];
    for (let i = 0; i < count; i++) {
      const w = new Worker(url, { type: "module", name: `mprpc-provider-${i + 1}` });
      this.#workers.push(w);
      const reply = next(w);
      w.postMessage({ type: "init", module, host, port, options } satisfies WorkerInit);
      started.push(reply);
    }
    const replies = await Promise.all(started);
    const failed = replies.find((r) => r.type === "error");
    if (failed && failed.type === "error") {
      await this.close(0);
      throw new Error(`A provider Worker failed to start: ${failed.message}`);
    }
  }

  /** Workers running. */
  get size(): number {
    return this.#workers.length;
  }

  /** Closes every Worker's provider (with `graceMs`) and terminates the Workers. */
  async close(graceMs: number): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map(async (w) => {
      const reply = next(w);
      w.postMessage({ type: "close", graceMs });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([reply, new Promise((r) => timer = setTimeout(r, graceMs + 2000))]);
      clearTimeout(timer);
      w.terminate();
    }));
  }
}
