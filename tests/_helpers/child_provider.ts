/**
 * A kitchen provider in its own process, for tests that kill, freeze or cut off providers:
 *
 * ```
 * deno run -A tests/_helpers/child_provider.ts --name=p1 [--host=127.0.0.1] [--port=0]
 *   [--zk=127.0.0.1:2181] [--zk-session-timeout-ms=4000] [--read-timeout-ms=30000]
 *   [--grace-ms=1000] [--max-connections=N] [--tls-cert=file --tls-key=file]
 *   [--report-runs=1]
 *   [--max-pending-tls-handshakes=N]
 * ```
 *
 * It serves `kitchen.Kitchen` (tests/_fixtures/kitchen.proto) with the kitchen handlers, except
 * that `Echo` answers its request with `inner.label` set to the provider's `--name`, so a
 * caller can tell who answered. With `--report-runs=1`, every `Sleep` handler run prints
 * `{"ran":"<token>"}` to stdout (see `ProviderProcess.ran`). With `--zk` it registers in ZooKeeper through
 * `ZooKeeperRegistry`. Once it serves, it prints one JSON line to stdout:
 * `{"ready":true,"name":"p1","host":"127.0.0.1","port":40123,"pid":4242}`.
 *
 * It shuts down gracefully (deregister, drain for `--grace-ms`, exit 0) on SIGTERM or when its
 * stdin closes, so a test that dies does not leave it behind. Warnings go to stderr.
 *
 * @example From a test, through provider_process.ts
 * ```ts ignore
 * import { spawnProvider } from "./provider_process.ts";
 * await using p = await spawnProvider({ name: "p1" });
 * console.log(p.address); // 127.0.0.1:40123
 * ```
 *
 * @module
 */
import { ConsoleLogger, type LevelName } from "../../src/log/logger.ts";
import type { Registry } from "../../src/registry/registry.ts";
import { ZooKeeperRegistry } from "../../src/registry/zookeeper/zookeeper_registry.ts";
import type { CallContext } from "../../src/server/call_context.ts";
import { RpcProvider } from "../../src/server/rpc_provider.ts";
import { Events, kitchenImpl, kitchenService } from "./kitchen.ts";

/** Parsed command line of the child provider. */
export interface ChildProviderArgs {
  name: string;
  host: string;
  port: number;
  zk: string | undefined;
  zkSessionTimeoutMs: number;
  readTimeoutMs: number;
  graceMs: number;
  maxConnections: number | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  maxPendingTlsHandshakes: number | undefined;
  logLevel: LevelName;
  reportRuns: boolean;
}

/**
 * Parses `--key=value` arguments.
 *
 * @example
 * ```ts
 * import { parseChildArgs } from "./child_provider.ts";
 * const a = parseChildArgs(["--name=p1", "--port=0"]);
 * if (a.name !== "p1" || a.host !== "127.0.0.1") throw new Error();
 * ```
 */
export function parseChildArgs(argv: string[]): ChildProviderArgs {
  const kv = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new TypeError(`child_provider: bad argument ${JSON.stringify(arg)}`);
    kv.set(m[1]!, m[2]!);
  }
  const num = (k: string, d: number) => {
    const v = kv.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new TypeError(`child_provider: --${k}=${v} is not a number`);
    return n;
  };
  return {
    name: kv.get("name") ?? `p${Deno.pid}`,
    host: kv.get("host") ?? "127.0.0.1",
    port: num("port", 0),
    zk: kv.get("zk"),
    zkSessionTimeoutMs: num("zk-session-timeout-ms", 4000),
    readTimeoutMs: num("read-timeout-ms", 30_000),
    graceMs: num("grace-ms", 1000),
    maxConnections: kv.has("max-connections") ? num("max-connections", 0) : undefined,
    tlsCert: kv.get("tls-cert"),
    tlsKey: kv.get("tls-key"),
    maxPendingTlsHandshakes: kv.has("max-pending-tls-handshakes")
      ? num("max-pending-tls-handshakes", 0)
      : undefined,
    logLevel: (kv.get("log-level") ?? "WARN") as LevelName,
    reportRuns: kv.get("report-runs") === "1",
  };
}

async function main(): Promise<void> {
  const args = parseChildArgs(Deno.args);
  const logger = new ConsoleLogger(args.logLevel);
  let registry: Registry | undefined;
  if (args.zk) {
    registry = new ZooKeeperRegistry({
      connect: args.zk,
      sessionTimeoutMs: args.zkSessionTimeoutMs,
      logger,
    });
  }
  const impl = kitchenImpl(new Events(), []);
  const provider = new RpcProvider({
    host: args.host,
    port: args.port,
    registry,
    logger,
    readTimeoutMs: args.readTimeoutMs,
    maxConnections: args.maxConnections,
    ...(args.maxPendingTlsHandshakes
      ? { maxPendingTlsHandshakes: args.maxPendingTlsHandshakes }
      : {}),
    tls: args.tlsCert && args.tlsKey ? { certFile: args.tlsCert, keyFile: args.tlsKey } : undefined,
  });
  const sleep = impl.Sleep!;
  provider.notifyService(await kitchenService(), {
    ...impl,
    Sleep: (req: { token: string }, ctx: CallContext) => {
      if (args.reportRuns) console.log(JSON.stringify({ ran: req.token }));
      return sleep(req, ctx);
    },
    Echo: (req: Record<string, unknown>, ctx: CallContext) => {
      Object.assign(ctx.responseMetadata, ctx.metadata);
      return { ...req, inner: { label: args.name, values: [] } };
    },
  });
  await provider.start();
  const { host, port } = provider.address;
  console.log(JSON.stringify({ ready: true, name: args.name, host, port, pid: Deno.pid }));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      await provider.close({ graceMs: args.graceMs });
      await registry?.close();
    })();
  Deno.addSignalListener("SIGTERM", () => void stop());
  // Stdin closing means the test that started us is gone (or wants us gone).
  void (async () => {
    const buf = new Uint8Array(256);
    try {
      while ((await Deno.stdin.read(buf)) !== null) { /* ignore input */ }
    } catch { /* stdin unusable: treat as closed */ }
    await stop();
  })().catch(() => {}); // shutdown problems are logged by the provider; we exit anyway
  await provider.run();
  await stop();
  Deno.exit(0);
}

if (import.meta.main) await main();
