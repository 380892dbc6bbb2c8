/**
 * A caller-side process of the discovery scale bench (bench/zk_scale.ts): `--count` callers,
 * each a {@linkcode ZooKeeperRegistry} of its own (one session each, as separate caller
 * processes would have) watching `--per-caller` services, caller `c` (from `--first`) watching
 * `bench.Svc<(c * perCaller + j) % services>` — what an `RpcChannel` does for each service it
 * calls (src/client/service_directory.ts watches through the registry).
 *
 * stdout, one JSON line each: `{"w":[c, service, providers, time]}` on every watch callback
 * (time: epoch ms, sub-ms resolution); `{"loaded":…}` once every watch has delivered its first
 * list (with the heap growth per caller, measured after a GC); `{"stats":…}` on request.
 * stdin, one command per line: `stats` (getChildren calls per `<session>|<path>` and getData
 * calls in total since the last `reset`), `reset`. Ends when stdin ends.
 *
 * Reads are counted by wrapping node-zookeeper-client's `getChildren`/`getData` in this
 * process: a measurement hook, not a change to the registry.
 *
 * @module
 */
import { zookeeper } from "../src/deps_zookeeper.ts";
import { ConsoleLogger } from "../src/log/logger.ts";
import { ZooKeeperRegistry } from "../src/registry/zookeeper/zookeeper_registry.ts";
import { sessionHex } from "../src/registry/zookeeper/zk_session.ts";
import { emit, parseFlags } from "./_load.ts";

const flags = parseFlags(Deno.args);
const connect = flags.get("zk")!;
const first = Number(flags.get("first") ?? 0);
const count = Number(flags.get("count") ?? 100);
const services = Number(flags.get("services") ?? 100);
const perCaller = Number(flags.get("per-caller") ?? 10);
const sessionMs = Number(flags.get("session-ms") ?? 10_000);

/** getChildren calls per `<session>|<path>`, getData calls in total, since the last reset. */
const reads = { children: new Map<string, number>(), data: 0 };
// The module does not export Client: take the prototype of an instance (never connected).
const proto = Object.getPrototypeOf(zookeeper.createClient("127.0.0.1:1"));
const getChildren = proto.getChildren;
const getData = proto.getData;
proto.getChildren = function (
  this: { getSessionId(): Uint8Array },
  path: string,
  ...rest: unknown[]
) {
  const key = `${sessionHex(this.getSessionId())}|${path}`;
  reads.children.set(key, (reads.children.get(key) ?? 0) + 1);
  return getChildren.call(this, path, ...rest);
};
proto.getData = function (...args: unknown[]) {
  reads.data++;
  return getData.apply(this, args);
};

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  return Deno.memoryUsage().heapUsed;
};

const logger = new ConsoleLogger("ERROR");
{
  // Warm-up: one registry through the same code paths, so that the heap growth measured below
  // is the callers' state, not code compiled on first use.
  const warm = new ZooKeeperRegistry({ connect, sessionTimeoutMs: sessionMs, logger });
  await warm.resolve("bench.Svc0");
  await warm.close();
}
const heapBefore = heap();
const registries: ZooKeeperRegistry[] = [];
let pending = count * perCaller;
const { promise: loaded, resolve: allLoaded } = Promise.withResolvers<void>();
const now = () => performance.timeOrigin + performance.now();
for (let k = 0; k < count; k++) {
  const c = first + k;
  const registry = new ZooKeeperRegistry({ connect, sessionTimeoutMs: sessionMs, logger });
  registries.push(registry);
  for (let j = 0; j < perCaller; j++) {
    const service = `bench.Svc${(c * perCaller + j) % services}`;
    let firstList = true;
    registry.watch(service, (list) => {
      emit({ w: [c, service, list.length, now()] });
      if (firstList) {
        firstList = false;
        if (--pending === 0) allLoaded();
      }
    });
  }
}
await loaded;
const heapAfter = heap();
emit({
  loaded: count,
  heapPerCallerBytes: (heapAfter - heapBefore) / count,
  gc: gc !== undefined,
  sessions: registries.map((r) => r.sessionId),
});

const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const cmd = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (cmd === "stats") {
      emit({ stats: { children: Object.fromEntries(reads.children), data: reads.data } });
    } else if (cmd === "reset") {
      reads.children.clear();
      reads.data = 0;
    }
  }
}
await Promise.all(registries.map((r) => r.close()));
Deno.exit(0);
