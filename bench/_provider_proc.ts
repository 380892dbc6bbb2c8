/**
 * The provider process of the benchmark suite: an {@linkcode RpcProvider} serving
 * `fixbug.UserServiceRpc.Login` and `mprpcbench.Bench.{Echo,Wait}` on a free loopback port.
 * Prints `{"ready":true,"port":N,"pid":P}` once serving and shuts down when stdin ends.
 *
 * Flags: `--log-dir DIR` (an AsyncLogger at INFO, one line per Login/Echo call), `--zk CONNECT`
 * (register in ZooKeeper), `--workers N` (passed on as RpcProvider's `workers` option),
 * `--wait-ms MS` (delay of `Wait`, default 200), `--metrics off` (RpcProvider's `metrics: false`),
 * `--admin true` (the admin listener on a free port; prints its port as `adminPort`), `--lend true`
 * (RpcProvider's `lendRequestBytes: true`).
 *
 * @module
 */
import { AsyncLogger, type Logger, RpcProvider, ZooKeeperRegistry } from "../mod.ts";
import type { RpcProviderOptions } from "../mod.ts";
import { emit, parseFlags, stdinClosed } from "./_load.ts";
import { addServices } from "./_bench_services.ts";
import { loadShapes } from "./_shapes.ts";

const flags = parseFlags(Deno.args);
const shapes = await loadShapes();
const waitMs = Number(flags.get("wait-ms") ?? 200);
const logDir = flags.get("log-dir");
const zk = flags.get("zk");
const workers = flags.get("workers");

const logger: AsyncLogger | undefined = logDir
  ? new AsyncLogger({ dir: logDir, level: "INFO" })
  : undefined;
const registry = zk ? new ZooKeeperRegistry({ connect: zk }) : undefined;

const options: RpcProviderOptions = {
  host: "127.0.0.1",
  port: 0,
  slowCallMs: 60_000,
  ...(flags.get("metrics") === "off" ? { metrics: false } : {}),
  ...(flags.get("lend") === "true" ? { lendRequestBytes: true } : {}),
  ...(flags.get("admin") === "true" ? { admin: { host: "127.0.0.1", port: 0 } } : {}),
  ...(logger ? { logger: logger as Logger } : {}),
  ...(registry ? { registry } : {}),
  // With workers, every event loop (main thread and Workers) adds the services through the
  // module's setup(), so there is no logging and Wait is 200 ms there.
  ...(workers
    ? { workers: Number(workers), workerModule: new URL("./_bench_services.ts", import.meta.url) }
    : {}),
};
const provider = new RpcProvider(options);
if (!workers) addServices(provider, shapes, { logger, waitMs });
await provider.start();
emit({
  ready: true,
  port: provider.address.port,
  pid: Deno.pid,
  adminPort: provider.adminAddress?.port,
});

await stdinClosed();
await provider.close({ graceMs: 0 });
await registry?.close();
await logger?.close();
Deno.exit(0);
