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
import { startZooKeeper } from "../tests/_helpers/zookeeper.ts";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  if (i >= 0) return Deno.args[i + 1];
  const eq = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

function intFlag(name: string, fallback: number | undefined): number | undefined {
  const text = flag(name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535 * 1000) {
    console.error(`--${name} must be a positive integer, got "${text}"`);
    Deno.exit(2);
  }
  return n;
}

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log("usage: deno run -A scripts/zookeeper.ts [--port 2181] [--tick 2000]");
  Deno.exit(0);
}

const zk = await startZooKeeper({
  port: intFlag("port", 2181),
  tickTime: intFlag("tick", 2000),
  // Allow the usual 30 s sessions of ZooKeeperRegistry.
  maxSessionTimeout: 60_000,
});
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
