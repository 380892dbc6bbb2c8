/**
 * Set-up shared by the examples: configuration (`-i test.conf`, `MPRPC_*`, flags), the logger,
 * the registry (ZooKeeper when configured, else the embedded static registry), and the exit
 * conventions: a usage error prints one line naming the problem and exits 2; a runtime error
 * prints one line (its stack with `--verbose` or `MPRPC_DEBUG=1`) and exits 1.
 *
 * @module
 */
import { AsyncLogger, type Registry, StaticRegistry, ZooKeeperRegistry } from "../mod.ts";
import {
  ConfigError,
  configUsage,
  type MprpcConfig,
  resolveConfig,
  zookeeperOptions,
} from "../config.ts";

/** The settings a provider honours: all of them. */
export const PROVIDER_FIELDS: readonly (keyof MprpcConfig)[] = [
  "rpcServerIp",
  "rpcServerPort",
  "zookeeperIp",
  "zookeeperPort",
  "zookeeperRoot",
  "sessionTimeoutMs",
  "zookeeperConnectTimeoutMs",
  "logDir",
  "logLevel",
  "timeoutMs",
  "maxMessageBytes",
  "legacy",
  "workers",
  "adminPort",
];

/** The settings a caller honours (the provider address is its static registry). */
export const CALLER_FIELDS: readonly (keyof MprpcConfig)[] = PROVIDER_FIELDS.filter((f) =>
  f !== "legacy" && f !== "workers" && f !== "adminPort"
);

/** What every example starts from. */
export interface ExampleSetup {
  config: MprpcConfig;
  logger: AsyncLogger;
  /** ZooKeeper when configured, else undefined (providers) / a static registry (callers). */
  zookeeper: ZooKeeperRegistry | undefined;
  close(): Promise<void>;
}

/** Whether `--verbose` was given or `MPRPC_DEBUG=1` is set (readable without prompting). */
function verboseWanted(args: readonly string[]): boolean {
  if (args.includes("--verbose")) return true;
  const variable = "MPRPC_DEBUG";
  return Deno.permissions.querySync({ name: "env", variable }).state === "granted" &&
    Deno.env.get(variable) === "1";
}

/** One line for an error: what failed, and the port when it is taken. */
export function describeError(e: unknown, config?: MprpcConfig): string {
  if (e instanceof Deno.errors.AddrInUse && config !== undefined) {
    return `cannot listen on ${config.rpcServerIp}:${config.rpcServerPort}: port ${config.rpcServerPort} is already in use`;
  }
  if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
    return `${e.message} (see the permissions in README.md)`;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs an example: reads the configuration for `fields` (a usage error exits 2), opens the
 * logger and ZooKeeper, runs `body`, closes them; a thrown error prints one line and exits 1.
 * `body` returns the exit code (default 0).
 */
export async function main(
  program: string,
  fields: readonly (keyof MprpcConfig)[],
  body: (env: ExampleSetup) => Promise<number | void>,
): Promise<never> {
  const args = Deno.args.filter((a) => a !== "--verbose");
  const verbose = verboseWanted(Deno.args);
  let config: MprpcConfig | undefined;
  let env: ExampleSetup | undefined;
  let code = 0;
  try {
    const resolved = await resolveConfig({ args, fields });
    if (resolved.help) {
      console.log(configUsage(program, { fields }));
      console.log("  --verbose                           print stack traces (or MPRPC_DEBUG=1)");
      Deno.exit(0);
    }
    if (resolved.rest.length > 0) {
      throw new ConfigError(`unexpected argument ${JSON.stringify(resolved.rest[0])}`, {
        source: resolved.rest[0]!,
      });
    }
    config = resolved.config;
    env = open(config, resolved.warnings);
    code = (await body(env)) ?? 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      const hint = e.message.includes("--help") ? "" : " (see --help)";
      console.error(`${program}: ${e.message}${hint}`);
      code = 2;
    } else {
      console.error(`${program}: ${describeError(e, config)}`);
      if (verbose && e instanceof Error && e.stack) console.error(e.stack);
      code = 1;
    }
  }
  try {
    await env?.close();
  } catch (e) {
    console.error(`${program}: closing: ${describeError(e)}`);
    code ||= 1;
  }
  Deno.exit(code);
}

/** Opens the logger and (if configured) ZooKeeper. */
function open(config: MprpcConfig, warnings: string[]): ExampleSetup {
  const logger = new AsyncLogger({
    dir: config.logDir,
    level: config.logLevel,
    console: config.logDir === undefined,
  });
  for (const w of warnings) logger.warn(w);
  const zk = zookeeperOptions(config);
  const zookeeper = zk === undefined ? undefined : new ZooKeeperRegistry({ ...zk, logger });
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
    stop().catch((e) => console.error(describeError(e)));
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  const remove = () => {
    for (const s of signals) Deno.removeSignalListener(s, handler);
  };
  return remove;
}
