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
import { startZooKeeper, startZooKeeperEnsemble } from "../src/testing/mod.ts";

const USAGE = "usage: deno run -A scripts/zookeeper.ts [--ensemble N] [--port 2181] [--tick 2000]";
const FLAGS = new Set(["port", "tick", "ensemble"]);

/** Parses `--name value` / `--name=value` flags; exits 2 on anything else. */
function parseFlags(args: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (!m || !FLAGS.has(m[1]!)) {
      console.error(`Unknown argument "${arg}"\n${USAGE}`);
      Deno.exit(2);
    }
    // `--ensemble` alone means a 3-member ensemble.
    const bare = m[2] === undefined && (args[i + 1] === undefined || args[i + 1]!.startsWith("--"));
    const value = m[1] === "ensemble" && bare ? "3" : m[2] ?? args[++i];
    if (value === undefined) {
      console.error(`--${m[1]} needs a value\n${USAGE}`);
      Deno.exit(2);
    }
    out.set(m[1]!, value);
  }
  return out;
}

function intFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const text = flags.get(name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535 * 1000) {
    console.error(`--${name} must be a positive integer, got "${text}"`);
    Deno.exit(2);
  }
  return n;
}

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(USAGE);
  Deno.exit(0);
}

const flags = parseFlags(Deno.args);
const port = intFlag(flags, "port", 2181);
const tickTime = intFlag(flags, "tick", 2000);
const size = flags.has("ensemble") ? intFlag(flags, "ensemble", 3) : 0;
if (size > 0 && (size % 2 === 0 || size > 7)) {
  console.error(`--ensemble must be an odd number from 1 to 7, got ${size}`);
  Deno.exit(2);
}

// Allow the usual 30 s sessions of ZooKeeperRegistry.
const maxSessionTimeout = 60_000;
let stop: () => Promise<void>;
let where: string;
if (size > 0) {
  const zk = await startZooKeeperEnsemble({
    size,
    tickTime,
    maxSessionTimeout,
    clientPorts: Array.from({ length: size }, (_, i) => port + i),
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
