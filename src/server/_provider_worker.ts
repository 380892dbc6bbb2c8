/**
 * The body of one provider Worker (see `RpcProviderOptions.workers`): imports the user's
 * services module, creates a provider with the options that travel, lets the module's
 * `setup(provider)` add services and interceptors, serves on the shared port with `reusePort`,
 * and stops on request.
 *
 * @module
 */
import { importModule } from "../util/import_module.ts";
import type { LogFields, Logger } from "../log/logger.ts";
import { RpcProvider } from "./rpc_provider.ts";
import type { WorkerInit, WorkerLogLine, WorkerReply } from "./worker_pool.ts";

/// <reference lib="deno.worker" />
const scope = self as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: WorkerReply): void;
  close(): void;
};

/** Sends every line to the main thread's logger. */
class ForwardingLogger implements Logger {
  #post(level: WorkerLogLine["level"], msg: string, fields: LogFields | undefined): void {
    try {
      scope.postMessage({ type: "log", level, msg, fields });
    } catch {
      // A field that cannot be cloned (a function, a symbol) travels as its string.
      const safe: LogFields = {};
      for (const [k, v] of Object.entries(fields ?? {})) {
        try {
          safe[k] = structuredClone(v);
        } catch {
          safe[k] = String(v);
        }
      }
      scope.postMessage({ type: "log", level, msg, fields: safe });
    }
  }
  debug(msg: string, fields?: LogFields): void {
    this.#post("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#post("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#post("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#post("error", msg, fields);
  }
  critical(msg: string, fields?: LogFields): void {
    this.#post("critical", msg, fields);
  }
}

let provider: RpcProvider | undefined;

scope.onmessage = async (e: MessageEvent) => {
  const msg = e.data as WorkerInit | { type: "close"; graceMs: number };
  if (msg.type === "init") {
    try {
      const mod = await importModule(new URL(msg.module));
      const setup = mod.default ?? mod.setup;
      if (typeof setup !== "function") {
        throw new TypeError(`${msg.module} must export a default setup(provider) function`);
      }
      provider = new RpcProvider({
        ...msg.options,
        ...(msg.forwardLogs ? { logger: new ForwardingLogger() } : {}),
        host: msg.host,
        port: msg.port,
        reusePort: true,
      });
      await setup(provider);
      await provider.start();
      scope.postMessage({ type: "ready" });
    } catch (err) {
      scope.postMessage({
        type: "error",
        message: err instanceof Error ? err.message : String(err),
      });
    }
  } else if (msg.type === "close") {
    await provider?.close({ graceMs: msg.graceMs });
    scope.postMessage({ type: "closed" });
  }
};
