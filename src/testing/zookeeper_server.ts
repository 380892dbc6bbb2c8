/**
 * Starts a real, throw-away ZooKeeper server (in the style of nats.deno's server launcher): a
 * temp dir with `zoo.cfg` and a data dir, a free loopback port, the admin server off and every
 * four-letter word allowed.
 *
 * @module
 */
import { findBackend, INSTALL_HINT } from "./_backend.ts";
import { freePort } from "./_free_port.ts";
import { LaunchedServer } from "./_launched_server.ts";

/** ZooKeeper's tick when {@linkcode ZooKeeperServerOptions.tickTime} is not given, ms. */
export const DEFAULT_ZK_TICK_TIME_MS = 500;
/** How long {@linkcode startZooKeeper} waits for the server to serve by default, ms. */
export const DEFAULT_ZK_START_TIMEOUT_MS = 30_000;

/**
 * Options of {@linkcode startZooKeeper}.
 *
 * @example A fast tick, so short session timeouts are allowed
 * ```ts
 * import type { ZooKeeperServerOptions } from "./mod.ts";
 * const options: ZooKeeperServerOptions = { tickTime: 200, minSessionTimeout: 400 };
 * console.log(options.tickTime); // 200
 * ```
 */
export interface ZooKeeperServerOptions {
  /**
   * ZooKeeper's tick in ms; session timeouts are clamped to 2..20 ticks by default.
   * Default {@linkcode DEFAULT_ZK_TICK_TIME_MS}.
   */
  tickTime?: number;
  /** Smallest session timeout the server grants, ms. Default `2 * tickTime`. */
  minSessionTimeout?: number;
  /** Largest session timeout the server grants, ms. Default `20 * tickTime`. */
  maxSessionTimeout?: number;
  /** Loopback port to listen on; default a free one. */
  port?: number;
  /** How long to wait for the server to answer `srvr`, ms. Default {@linkcode DEFAULT_ZK_START_TIMEOUT_MS}. */
  startTimeoutMs?: number;
}

/**
 * A running throw-away server; see {@linkcode startZooKeeper}. `stop()` (or leaving an
 * `await using` scope) ends the process and deletes its temp dir.
 *
 * @example Crash and restart the server under a client
 * ```ts ignore
 * import { startZooKeeper } from "./mod.ts";
 * await using zk = await startZooKeeper();
 * await zk.kill(); // SIGKILL: clients see the connection drop
 * await zk.restart(); // same port, same data; short-lived sessions may have expired
 * ```
 */
export interface ZooKeeperServer {
  /** Connect string for clients, `"127.0.0.1:<port>"`. */
  readonly connect: string;
  /** The loopback port. */
  readonly port: number;
  /** The temp dir holding `zoo.cfg`, `data/` and the server's log. */
  readonly dir: string;
  /** `"docker"` or `"local"`. */
  readonly backend: "docker" | "local";
  /** Whether the server process is up (not stopped, killed or crashed). */
  readonly running: boolean;
  /**
   * Stops the server (SIGTERM), if it runs, and starts it again on the same port with the same
   * data, resolving once it serves. Sessions survive when the downtime is shorter than their
   * timeout. Also brings back a server taken down by {@linkcode ZooKeeperServer.kill} or
   * {@linkcode ZooKeeperServer.halt}.
   */
  restart(): Promise<void>;
  /** Stops the server gracefully (SIGTERM) but keeps its data, so `restart()` resumes it. */
  halt(): Promise<void>;
  /** Kills the server at once (SIGKILL, a crash); its data is kept so `restart()` works. */
  kill(): Promise<void>;
  /** Freezes the server (SIGSTOP): clients keep their TCP connections but get no answers. */
  pause(): Promise<void>;
  /** Thaws a server frozen by {@linkcode ZooKeeperServer.pause} (SIGCONT). */
  resume(): Promise<void>;
  /** The tail of the server's log (last `lines` lines), for error messages. */
  logTail(lines?: number): Promise<string>;
  /** Stops the server for good and deletes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Calls {@linkcode ZooKeeperServer.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Whether {@linkcode startZooKeeper} can start a server here (Docker engine or a local install).
 *
 * @returns true when a backend was found (the search runs once per process).
 *
 * @example Skipping tests where ZooKeeper is missing
 * ```ts
 * import { zkAvailable } from "./mod.ts";
 * Deno.test({ name: "needs ZooKeeper", ignore: !(await zkAvailable()), fn() {} });
 * ```
 */
export async function zkAvailable(): Promise<boolean> {
  return (await findBackend()) !== undefined;
}

/**
 * Starts a ZooKeeper server on a free loopback port (or `options.port`) and waits until it
 * serves. The server runs in its own temp dir; `stop()` (or `await using`) kills it and deletes
 * the dir.
 *
 * @param opts Tick, session timeout bounds, port and start timeout; all optional.
 * @returns The running server; its `connect` string is what clients take.
 *
 * @throws {Error} saying how to install ZooKeeper when none can be found, or with the tail of
 *   the server's log when it exits early or does not answer within `startTimeoutMs`.
 *
 * @example A server for one test, when ZooKeeper is installed
 * ```ts
 * import { startZooKeeper, zkAvailable } from "./mod.ts";
 * if (await zkAvailable()) {
 *   await using zk = await startZooKeeper({ tickTime: 200 });
 *   console.log(zk.connect); // 127.0.0.1:<port>
 * }
 * ```
 */
export async function startZooKeeper(opts: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
  const backend = await findBackend();
  if (!backend) throw new Error(INSTALL_HINT);
  const tickTime = opts.tickTime ?? DEFAULT_ZK_TICK_TIME_MS;
  const port = opts.port ?? freePort();
  const dir = await Deno.makeTempDir({ prefix: "mprpc_zk_" });
  const docker = backend.kind === "docker";
  const cfg = [
    `tickTime=${tickTime}`,
    `dataDir=${docker ? "/data" : `${dir}/data`}`,
    `clientPort=${docker ? 2181 : port}`,
    ...(docker ? [] : ["clientPortAddress=127.0.0.1"]),
    `minSessionTimeout=${opts.minSessionTimeout ?? 2 * tickTime}`,
    `maxSessionTimeout=${opts.maxSessionTimeout ?? 20 * tickTime}`,
    "admin.enableServer=false",
    "4lw.commands.whitelist=*",
    "forceSync=no",
    "maxClientCnxns=0",
    "",
  ].join("\n");
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/zoo.cfg`, cfg);
  const server = new LaunchedServer(
    backend,
    dir,
    port,
    opts.startTimeoutMs ?? DEFAULT_ZK_START_TIMEOUT_MS,
  );
  try {
    await server.start(true);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
