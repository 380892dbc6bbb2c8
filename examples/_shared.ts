/**
 * Set-up shared by the examples: configuration (`-i test.conf`, `MPRPC_*`, flags), the logger
 * and the registry (ZooKeeper when configured, else the embedded static registry).
 *
 * @module
 */
import { AsyncLogger, type Registry, StaticRegistry, ZooKeeperRegistry } from "../mod.ts";
import { configUsage, type MprpcConfig, resolveConfig, zookeeperConnect } from "../config.ts";

/** What every example starts from. */
export interface ExampleSetup {
  config: MprpcConfig;
  logger: AsyncLogger;
  /** ZooKeeper when configured, else undefined (providers) / a static registry (callers). */
  zookeeper: ZooKeeperRegistry | undefined;
  close(): Promise<void>;
}

/** Reads the configuration and opens the logger and (if configured) ZooKeeper. */
export async function setup(program: string): Promise<ExampleSetup> {
  const { config, warnings, help } = await resolveConfig();
  if (help) {
    console.log(configUsage(program));
    Deno.exit(0);
  }
  const logger = new AsyncLogger({
    dir: config.logDir,
    level: config.logLevel,
    console: config.logDir === undefined,
  });
  for (const w of warnings) logger.warn(w);
  const connect = zookeeperConnect(config);
  const zookeeper = connect === undefined ? undefined : new ZooKeeperRegistry({
    connect,
    root: config.zookeeperRoot,
    sessionTimeoutMs: config.sessionTimeoutMs,
    connectTimeoutMs: config.zookeeperConnectTimeoutMs,
    logger,
  });
  return {
    config,
    logger,
    zookeeper,
    async close() {
      await zookeeper?.close();
      await logger.close();
    },
  };
}

/** The registry a caller uses: ZooKeeper, or the provider address from the configuration. */
export function callerRegistry(s: ExampleSetup, service: string): Registry {
  return s.zookeeper ??
    new StaticRegistry({ [service]: [`${s.config.rpcServerIp}:${s.config.rpcServerPort}`] });
}

/** UTF-8 bytes of a string (the original's examples use `bytes` fields for names). */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The string in UTF-8 bytes. */
export function text(bytes: Uint8Array | null | undefined): string {
  return bytes ? new TextDecoder().decode(bytes) : "";
}

/** Stops `stop` on SIGINT/SIGTERM (once); returns a function removing the listeners. */
export function onShutdown(stop: () => Promise<void>): () => void {
  const handler = () => {
    remove();
    stop().catch((e) => console.error(e));
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  const remove = () => {
    for (const s of signals) Deno.removeSignalListener(s, handler);
  };
  return remove;
}
