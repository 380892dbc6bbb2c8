/**
 * The body of one provider Worker (see `RpcProviderOptions.workers`): imports the user's
 * services module, creates a provider with the options that travel, lets the module's
 * `setup(provider)` add services and interceptors, serves on the shared port with `reusePort`,
 * posts its metrics to the main thread every `metricsIntervalMs` and once more after closing,
 * and stops on request.
 *
 * @module
 */
import { errorMessage } from "../util/error_message.ts";
import { PostingLogger } from "../log/_posted_logger.ts";
import { importModule } from "../util/import_module.ts";
import { localMetrics, RpcProvider } from "./rpc_provider.ts";
import type { WorkerInit, WorkerReply } from "./worker_pool.ts";

/// <reference lib="deno.worker" />
const scope = self as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: WorkerReply): void;
  close(): void;
};

let provider: RpcProvider | undefined;
let metricsTimer: ReturnType<typeof setInterval> | undefined;

/** Posts what this Worker's provider counted (cumulative: the main thread keeps the latest). */
function postMetrics(): void {
  if (provider !== undefined) {
    scope.postMessage({ type: "metrics", metrics: localMetrics(provider) });
  }
}

scope.onmessage = async (e: MessageEvent) => {
  const msg = e.data as
    | WorkerInit
    | { type: "close"; graceMs: number }
    | { type: "serving"; serving: boolean };
  if (msg.type === "init") {
    try {
      const mod = await importModule(new URL(msg.module));
      const setup = mod.default ?? mod.setup;
      if (typeof setup !== "function") {
        throw new TypeError(`${msg.module} must export a default setup(provider) function`);
      }
      provider = new RpcProvider({
        ...msg.options,
        ...(msg.forwardLogs
          ? { logger: new PostingLogger((line) => scope.postMessage(line)) }
          : {}),
        host: msg.host,
        port: msg.port,
        reusePort: true,
      });
      await setup(provider);
      await provider.start();
      // Metrics off: nothing to post while running (the final post after close still says so).
      if (msg.options.metrics !== false) {
        metricsTimer = setInterval(postMetrics, msg.metricsIntervalMs);
      }
      scope.postMessage({ type: "ready" });
    } catch (err) {
      scope.postMessage({
        type: "error",
        message: errorMessage(err),
      });
    }
  } else if (msg.type === "serving") {
    provider?.setServing(msg.serving);
  } else if (msg.type === "close") {
    clearInterval(metricsTimer);
    await provider?.close({ graceMs: msg.graceMs });
    postMetrics(); // the final counts, before "closed"
    scope.postMessage({ type: "closed" });
  }
};
