/**
 * Runs a throw-away ZooKeeper in the foreground, for manual tests and demos:
 *
 * ```sh
 * deno run -A scripts/zookeeper.ts [--port 2181] [--tick 2000]
 * deno run -A scripts/zookeeper.ts --ensemble [3] [--port 2181] [--tick 2000]
 * ```
 *
 * Prints the connect string, serves until SIGINT/SIGTERM (Ctrl-C), then stops the server(s) and
 * deletes the temp dir. With `--ensemble N` (odd, 1..7) it starts N servers on loopback that
 * form a quorum, with client ports `--port`, `--port + 1`, ... and prints which one leads. Uses
 * the same launchers as the tests (src/testing/, exported as `./testing`).
 * Unknown flags are refused.
 *
 * @module
 */
import { flagProblem } from "./_cli.ts";
import { parseArgs } from "node:util";
import { startZooKeeper, startZooKeeperEnsemble } from "../src/testing/mod.ts";

const USAGE =
  "usage: deno run -A scripts/zookeeper.ts [--ensemble N] [--port 2181] [--tick 2000] [--verbose]";

/** A usage error: one line naming the problem, exit 2. */
function usageError(problem: string): never {
  console.error(`zookeeper: ${problem} (see --help)`);
  Deno.exit(2);
}

let flags: {
  ensemble?: string | undefined;
  port?: string | undefined;
  tick?: string | undefined;
  help?: boolean | undefined;
  verbose?: boolean | undefined;
};
try {
  // `--ensemble` alone means a 3-member ensemble.
  const args = Deno.args.flatMap((arg, i, all) =>
    arg === "--ensemble" && (all[i + 1] === undefined || all[i + 1]!.startsWith("-"))
      ? ["--ensemble=3"]
      : [arg]
  );
  flags = parseArgs({
    args,
    options: {
      ensemble: { type: "string" },
      port: { type: "string" },
      tick: { type: "string" },
      help: { type: "boolean", short: "h" },
      verbose: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  usageError(flagProblem(e));
}

function intFlag(name: "ensemble" | "port" | "tick", fallback: number, max: number): number {
  const text = flags[name];
  if (text === undefined) return fallback;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) usageError(`--${name}: "${text}" is not an integer in 1..${max}`);
  return n;
}

/** Whether something already listens on `port` (any address ZooKeeper would bind). */
function portTaken(port: number): boolean {
  for (const hostname of ["0.0.0.0", "127.0.0.1"]) {
    try {
      Deno.listen({ hostname, port }).close();
    } catch (e) {
      if (e instanceof Deno.errors.AddrInUse) return true;
      throw e;
    }
  }
  return false;
}

if (flags.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const port = intFlag("port", 2181, 65535);
const tickTime = intFlag("tick", 2000, 60_000);
const size = flags.ensemble === undefined ? 0 : intFlag("ensemble", 3, 7);
if (size > 0 && size % 2 === 0) usageError(`--ensemble must be odd (1, 3, 5 or 7), got ${size}`);
const ports = Array.from({ length: Math.max(size, 1) }, (_, i) => port + i);
for (const p of ports) {
  if (portTaken(p)) {
    console.error(`zookeeper: port ${p} is already in use (another ZooKeeper?); choose --port`);
    Deno.exit(1);
  }
}

// Allow the usual 30 s sessions of ZooKeeperRegistry.
const maxSessionTimeout = 60_000;
let stop: () => Promise<void>;
let where: string;
try {
  if (size > 0) {
    const zk = await startZooKeeperEnsemble({
      size,
      tickTime,
      maxSessionTimeout,
      clientPorts: ports,
    });
    const leader = await zk.waitQuorum();
    console.log(`ZooKeeper ensemble of ${size} serving on ${zk.connect}; data in ${zk.dir}`);
    for (const m of zk.members) {
      console.log(`  member ${m.id}: ${m.connect} ${m === leader ? "leader" : await m.mode()}`);
    }
    stop = () => zk.stop();
    where = zk.connect;
  } else {
    const zk = await startZooKeeper({ port, tickTime, maxSessionTimeout });
    console.log(`ZooKeeper (${zk.backend}) serving on ${zk.connect}; data in ${zk.dir}`);
    stop = () => zk.stop();
    where = zk.connect;
  }
} catch (e) {
  console.error(
    `zookeeper: cannot start ZooKeeper on port ${port}: ${
      e instanceof Error ? e.message.split("\n")[0] : e
    }`,
  );
  if (flags.verbose) console.error(e);
  Deno.exit(1);
}
console.log("Ctrl-C to stop");

const { promise: signalled, resolve } = Promise.withResolvers<Deno.Signal>();
const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
const handlers = signals.map((sig) => {
  const h = () => resolve(sig);
  Deno.addSignalListener(sig, h);
  return [sig, h] as const;
});
const sig = await signalled;
for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
console.log(`${sig}: stopping ZooKeeper on ${where}`);
await stop();
