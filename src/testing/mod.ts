/**
 * Real, throw-away ZooKeeper servers for testing services that use `ZooKeeperRegistry` (in the
 * style of nats.deno's server launcher): each server runs in its own temp dir on a free
 * loopback port, with the admin server off and every four-letter word allowed, and `stop()` (or
 * `await using`) kills it and deletes the dir.
 *
 * A server comes from, in this order: Docker's `zookeeper` image when a Docker engine answers;
 * `$ZOOKEEPER_HOME` (an Apache release); Debian's package (`apt-get install zookeeper`); a
 * `zkServer.sh` on `PATH`. Set `MPRPC_ZK_BACKEND=local` or `=docker` to force one. Ensembles
 * need a local install. Starting a server needs `--allow-run`, `--allow-read`, `--allow-write`
 * (temp dir), `--allow-net` and `--allow-env`.
 *
 * @example Skip a test where no ZooKeeper is installed
 * ```ts
 * import { startZooKeeper, zkAvailable } from "./mod.ts";
 *
 * Deno.test({
 *   name: "my service registers in ZooKeeper",
 *   ignore: !(await zkAvailable()),
 *   async fn() {
 *     await using zk = await startZooKeeper();
 *     console.log(zk.connect); // hand this to ZooKeeperRegistry
 *   },
 * });
 * ```
 *
 * @module
 */
export {
  DEFAULT_ZK_START_TIMEOUT_MS,
  DEFAULT_ZK_TICK_TIME_MS,
  startZooKeeper,
  zkAvailable,
  type ZooKeeperServer,
  type ZooKeeperServerOptions,
} from "./zookeeper_server.ts";
export {
  type MemberMode,
  startZooKeeperEnsemble,
  zkEnsembleAvailable,
  type ZooKeeperEnsemble,
  type ZooKeeperEnsembleOptions,
  type ZooKeeperMember,
} from "./zookeeper_ensemble.ts";
