/**
 * A provider-side process of the discovery scale bench (bench/zk_scale.ts): `--count` providers,
 * each a {@linkcode ZooKeeperRegistry} of its own (one ZooKeeper session each, as separate
 * provider processes would have) registering ONE endpoint, provider `i` (from `--first`) being
 * `bench.Svc<i % services>` at 127.0.0.1:<20000 + i>, methods `["Call"]`.
 *
 * Nothing listens on those ports: the registry only writes nodes, and the bench measures
 * discovery, not calls.
 *
 * Prints `{"registered":N,"ms":…,"sessions":[…]}` once every node is written, then waits for
 * stdin to end and closes every registry gracefully (deleting the nodes), printing
 * `{"closed":N,"ms":…}`. Killed with SIGKILL it leaves the nodes to expire with the sessions.
 *
 * Flags: `--zk CONNECT`, `--first N`, `--count N`, `--services N`, `--session-ms MS`,
 * `--parallel N` (registrations in flight, default 50).
 *
 * @module
 */
import { zookeeper } from "../src/deps_zookeeper.ts";
import { ConsoleLogger } from "../src/log/logger.ts";
import { ZooKeeperRegistry } from "../src/registry/zookeeper/zookeeper_registry.ts";
import { emit, parseFlags, stdinClosed } from "./_load.ts";

const flags = parseFlags(Deno.args);
const connect = flags.get("zk")!;
const first = Number(flags.get("first") ?? 0);
const count = Number(flags.get("count") ?? 250);
const services = Number(flags.get("services") ?? 100);
const sessionMs = Number(flags.get("session-ms") ?? 10_000);
const parallel = Number(flags.get("parallel") ?? 50);
const logger = new ConsoleLogger("ERROR");

/**
 * ZooKeeper requests sent, by operation and outcome (`create:ok`, `create:-110`, ...): counted
 * by wrapping node-zookeeper-client's methods in this process, a measurement hook only.
 */
const ops = new Map<string, number>();
// The module does not export Client: take the prototype of an instance (never connected).
const proto = Object.getPrototypeOf(zookeeper.createClient("127.0.0.1:1"));
for (const name of ["create", "remove", "exists", "getData", "setData", "getChildren"]) {
  const original = proto[name];
  proto[name] = function (...args: unknown[]) {
    const cb = args.at(-1) as (err: { code?: number } | null, ...rest: unknown[]) => void;
    args[args.length - 1] = (err: { code?: number } | null, ...rest: unknown[]) => {
      const key = `${name}:${err ? err.code : "ok"}`;
      ops.set(key, (ops.get(key) ?? 0) + 1);
      cb(err, ...rest);
    };
    return original.apply(this, args);
  };
}

const registries: ZooKeeperRegistry[] = [];
const started = performance.now();
let next = 0;
await Promise.all(Array.from({ length: Math.min(parallel, count) }, async () => {
  while (next < count) {
    const i = first + next++;
    const registry = new ZooKeeperRegistry({
      connect,
      sessionTimeoutMs: sessionMs,
      connectTimeoutMs: 60_000,
      logger,
    });
    registries.push(registry);
    await registry.register({
      service: `bench.Svc${i % services}`,
      methods: ["Call"],
      host: "127.0.0.1",
      port: 20_000 + i,
    });
  }
}));
emit({
  registered: count,
  ms: performance.now() - started,
  at: performance.timeOrigin + performance.now(),
  sessions: registries.map((r) => r.sessionId),
  ops: Object.fromEntries(ops),
});

await stdinClosed();
const closing = performance.now();
await Promise.all(registries.map((r) => r.close()));
emit({ closed: count, ms: performance.now() - closing });
Deno.exit(0);
