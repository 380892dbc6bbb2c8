/**
 * Runs a throw-away ZooKeeper in the foreground, for manual tests and demos:
 *
 * ```sh
 * deno run -A scripts/zookeeper.ts [--port 2181] [--tick 2000]
 * ```
 *
 * Prints the connect string, serves until SIGINT/SIGTERM (Ctrl-C), then stops the server and
 * deletes its temp dir. Uses the same launcher as the tests (tests/_helpers/zookeeper.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startZooKeeper } from "../tests/_helpers/zookeeper.ts";

const USAGE = "usage: deno run -A scripts/zookeeper.ts [--port 2181] [--tick 2000] [--verbose]";

/** A usage error: one line naming the problem, exit 2. */
function usageError(problem: string): never {
  console.error(`zookeeper: ${problem} (see --help)`);
  Deno.exit(2);
}

let flags: {
  port?: string | undefined;
  tick?: string | undefined;
  help?: boolean | undefined;
  verbose?: boolean | undefined;
};
try {
  flags = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string" },
      tick: { type: "string" },
      help: { type: "boolean", short: "h" },
      verbose: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (e) {
  const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
  const unknown = /^Unknown option '([^']*)'/.exec(message);
  usageError(unknown ? `unknown flag "${unknown[1]}"` : message.replace(/\. To specify.*/, ""));
}

function intFlag(name: "port" | "tick", fallback: number, max: number): number {
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
if (portTaken(port)) {
  console.error(`zookeeper: port ${port} is already in use (another ZooKeeper?); choose --port`);
  Deno.exit(1);
}

let zk: Awaited<ReturnType<typeof startZooKeeper>>;
try {
  zk = await startZooKeeper({
    port,
    tickTime,
    // Allow the usual 30 s sessions of ZooKeeperRegistry.
    maxSessionTimeout: 60_000,
  });
} catch (e) {
  console.error(
    `zookeeper: cannot start ZooKeeper on port ${port}: ${
      e instanceof Error ? e.message.split("\n")[0] : e
    }`,
  );
  if (flags.verbose) console.error(e);
  Deno.exit(1);
}
console.log(`ZooKeeper (${zk.backend}) serving on ${zk.connect}; data in ${zk.dir}`);
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
console.log(`${sig}: stopping ZooKeeper on ${zk.connect}`);
await zk.stop();
