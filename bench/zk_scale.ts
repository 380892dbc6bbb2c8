/**
 * Discovery at scale: one 3-member ZooKeeper ensemble on loopback, `--providers` registrations
 * (default 1,000, from `--provider-procs` processes, one session each) of `--services` services
 * (100), and `--callers` caller registries (200, from `--caller-procs` processes, one session
 * each) watching `--per-caller` services each (10). Measures, printing a Markdown section (and
 * JSON with `--json FILE`):
 *
 * - ZooKeeper's size: nodes, ephemerals, data size, watches in total and per caller session
 *   (`mntr`, `wchs`, `wchc` on every member), connections per member;
 * - the heap a caller's cache takes (per caller of `--per-caller` services, and one caller
 *   holding all services);
 * - how long every watching caller takes to see a change, p50/p99: a provider added, removed
 *   gracefully, and killed with SIGKILL (its ephemeral node goes when its session expires,
 *   `--victim-session-ms`, default 4000);
 * - a mass restart of `--restart` providers (500) at once, gracefully (`term`: nodes deleted,
 *   then re-created) and by SIGKILL (`kill`: the new sessions replace the nodes the dead ones
 *   left): transactions committed per second (the leader's zxid), time until every caller has
 *   the full lists again, and refreshes (getChildren) per caller per service against the node
 *   events that caused them;
 * - the ensemble's raw capacity from one client process: creates/s and getData/s
 *   (bench/_zk_ceiling.ts).
 *
 * The registrations are real ZooKeeper nodes from real registries, but nothing listens on their
 * ports: the bench measures discovery, not calls.
 *
 * ```
 * deno run -A bench/zk_scale.ts [--providers 1000] [--services 100] [--callers 200]
 *     [--per-caller 10] [--changes 20] [--kills 3] [--restart 500] [--json FILE]
 * ```
 *
 * @module
 */
import { ConsoleLogger } from "../src/log/logger.ts";
import { ZooKeeperRegistry } from "../src/registry/zookeeper/zookeeper_registry.ts";
import { fourLetterWord, mntr } from "../src/testing/_four_letter_words.ts";
import { startZooKeeperEnsemble, type ZooKeeperMember } from "../src/testing/mod.ts";
import { parseFlags } from "./_load.ts";
import { cpuSeconds } from "./_proc.ts";
import { Child } from "./_zk_scale_child.ts";
import { zkCeiling } from "./_zk_ceiling.ts";

const flags = parseFlags(Deno.args);
const int = (name: string, fallback: number) => Number(flags.get(name) ?? fallback);
const PROVIDERS = int("providers", 1000);
const PROVIDER_PROCS = int("provider-procs", 4);
const SERVICES = int("services", 100);
const CALLERS = int("callers", 200);
const CALLER_PROCS = int("caller-procs", 2);
const PER_CALLER = int("per-caller", 10);
const CHANGES = int("changes", 20);
const KILLS = int("kills", 3);
const RESTART = int("restart", 500);
const SESSION_MS = int("session-ms", 10_000);
const VICTIM_SESSION_MS = int("victim-session-ms", 4000);
const PER_PROC = Math.ceil(PROVIDERS / PROVIDER_PROCS);
const PER_SERVICE = PROVIDERS / SERVICES;
const HERE = new URL(".", import.meta.url);

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const report: Record<string, unknown> = {};
const lines: string[] = [];
const say = (line: string) => {
  lines.push(line);
  console.error(line);
};

/** Every watch callback: `c|service` → [providers, time][] (since the phase began). */
const history = new Map<string, Array<[number, number]>>();
/** The latest list size per `c|service`. */
const latest = new Map<string, number>();
/** service → callers watching it. */
const watchers = new Map<string, Set<number>>();
let lastCallbackAt = 0;
function onCallerLine(msg: { w?: [number, string, number, number] }): void {
  if (!msg.w) return;
  const [c, service, n, t] = msg.w;
  if (c >= CALLERS) return; // the full-cache probe
  const key = `${c}|${service}`;
  let h = history.get(key);
  if (!h) {
    history.set(key, h = []);
    let set = watchers.get(service);
    if (!set) watchers.set(service, set = new Set());
    set.add(c);
  }
  h.push([n, t]);
  latest.set(key, n);
  lastCallbackAt = Math.max(lastCallbackAt, t);
}

async function until(what: string, cond: () => boolean, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** When each watcher of `service` first saw `n` providers at or after `since`, ms after it. */
function seenAfter(service: string, n: number, since: number): number[] | undefined {
  const out: number[] = [];
  for (const c of watchers.get(service) ?? []) {
    const hit = history.get(`${c}|${service}`)!.find(([k, t]) => k === n && t >= since);
    if (!hit) return undefined;
    out.push(hit[1] - since);
  }
  return out;
}

/** Latest list size per watcher equals `n` for every service. */
function allAt(n: number): boolean {
  for (const k of latest.values()) if (k !== n) return false;
  return true;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
const ms = (v: number) => `${Math.round(v)} ms`;
const dist = (v: number[]) =>
  `p50 ${ms(pct(v, 50))}, p99 ${ms(pct(v, 99))}, max ${ms(Math.max(...v))} (n=${v.length})`;

async function zxid(member: ZooKeeperMember): Promise<number> {
  const text = await fourLetterWord(member.port, "srvr");
  const hex = /Zxid: 0x([0-9a-f]+)/.exec(text)?.[1];
  if (!hex) throw new Error(`no Zxid in srvr of member ${member.id}: ${text}`);
  return Number(BigInt(`0x${hex}`) & 0xffffffffn);
}

function providerProc(zk: string, index: number): Child {
  return new Child(new URL("./_zk_scale_providers.ts", HERE), [
    `--zk=${zk}`,
    `--first=${index * PER_PROC}`,
    `--count=${Math.min(PER_PROC, PROVIDERS - index * PER_PROC)}`,
    `--services=${SERVICES}`,
    `--session-ms=${SESSION_MS}`,
  ]);
}

/** CPU seconds of the ensemble's JVMs, the caller processes and the provider processes. */
function cpu(members: readonly ZooKeeperMember[], callers: Child[], providers: Child[]) {
  const sum = (pids: Array<number | undefined>) =>
    pids.reduce((a: number, pid) => {
      try {
        return a + (pid ? cpuSeconds(pid) : 0);
      } catch {
        return a; // exited meanwhile
      }
    }, 0);
  return {
    zk: sum(members.map((m) => m.pid)),
    callers: sum(callers.map((c) => c.pid)),
    providers: sum(providers.map((c) => c.pid)),
  };
}
const cpuText = (a: ReturnType<typeof cpu>, b: ReturnType<typeof cpu>, secs: number) =>
  `CPU over ${secs.toFixed(1)} s: ZooKeeper members ${(b.zk - a.zk).toFixed(1)} s, caller ` +
  `processes ${(b.callers - a.callers).toFixed(1)} s` +
  (b.providers > 0 ? `, provider processes ${(b.providers - a.providers).toFixed(1)} s` : "");

const children: Child[] = [];
const spawn = (c: Child) => (children.push(c), c);

say(`load at start: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
await using zk = await startZooKeeperEnsemble({
  size: 3,
  tickTime: 500,
  minSessionTimeout: 1000,
  maxSessionTimeout: 30_000,
});
try {
  const leader = await zk.waitQuorum();
  say(`ensemble ${zk.connect}, leader member ${leader.id}`);

  // 1. Providers register.
  const z0 = await zxid(leader);
  const provs = Array.from(
    { length: PROVIDER_PROCS },
    (_, i) => spawn(providerProc(zk.connect, i)),
  );
  const regs = await Promise.all(provs.map((p) => p.next((m) => m.registered !== undefined)));
  const z1 = await zxid(leader);
  const regStart = Math.min(...regs.map((r) => r.at - r.ms));
  const regEnd = Math.max(...regs.map((r) => r.at));
  const regTxns = z1 - z0;
  const ops: Record<string, number> = {};
  for (const r of regs) {
    for (const [k, v] of Object.entries(r.ops as Record<string, number>)) {
      ops[k] = (ops[k] ?? 0) + v;
    }
  }
  report.register = { providers: PROVIDERS, ms: regEnd - regStart, txns: regTxns, ops };
  say(
    `registered ${PROVIDERS} providers (${PROVIDER_PROCS} processes, one session each) in ` +
      `${ms(regEnd - regStart)}: ${regTxns} transactions, ` +
      `${Math.round(regTxns / ((regEnd - regStart) / 1000))} txn/s; requests ${
        JSON.stringify(ops)
      }`,
  );

  // 2. Callers watch.
  const perProc = Math.ceil(CALLERS / CALLER_PROCS);
  const callersAt = now();
  const cpuLoad0 = cpu(zk.members, [], provs);
  const callers = Array.from({ length: CALLER_PROCS }, (_, i) =>
    spawn(
      new Child(
        new URL("./_zk_scale_callers.ts", HERE),
        [
          `--zk=${zk.connect}`,
          `--first=${i * perProc}`,
          `--count=${Math.min(perProc, CALLERS - i * perProc)}`,
          `--services=${SERVICES}`,
          `--per-caller=${PER_CALLER}`,
          `--session-ms=${SESSION_MS}`,
        ],
        { gc: true, onLine: onCallerLine },
      ),
    ));
  const loaded = await Promise.all(callers.map((c) => c.next((m) => m.loaded !== undefined)));
  const heapPerCaller = loaded.reduce((a, l) => a + l.heapPerCallerBytes, 0) / loaded.length;
  const loadSecs = (now() - callersAt) / 1000;
  const cpuLoad1 = cpu(zk.members, callers, provs);
  say(
    `${CALLERS} callers watching ${PER_CALLER} services each loaded in ${ms(now() - callersAt)}; ` +
      `heap per caller ${(heapPerCaller / 1024).toFixed(1)} KiB ` +
      `(registry, session, cache of ${PER_CALLER * PER_SERVICE} endpoints); ` +
      cpuText(cpuLoad0, cpuLoad1, loadSecs),
  );
  const full = spawn(
    new Child(new URL("./_zk_scale_callers.ts", HERE), [
      `--zk=${zk.connect}`,
      `--first=${CALLERS}`,
      "--count=1",
      `--services=${SERVICES}`,
      `--per-caller=${SERVICES}`,
    ], { gc: true }),
  );
  const fullHeap = (await full.next((m) => m.loaded !== undefined)).heapPerCallerBytes;
  await full.close();
  say(
    `one caller watching all ${SERVICES} services (${PROVIDERS} endpoints): heap ` +
      `${(fullHeap / 1024).toFixed(1)} KiB`,
  );
  report.callers = { heapPerCaller, fullHeap };

  // 3. ZooKeeper's size.
  const m = await mntr(leader.port);
  const wchs = await Promise.all(zk.members.map((mem) => fourLetterWord(mem.port, "wchs")));
  // wchs/wchc list data watches only (ZooKeeper 3.6+ keeps child watches apart); mntr's
  // zk_watch_count counts both.
  const dataWatches = wchs.reduce(
    (a, t) => a + Number(/Total watches:(\d+)/.exec(t)?.[1] ?? 0),
    0,
  );
  const memberMntr = await Promise.all(zk.members.map((mem) => mem.mntr()));
  const totalWatches = memberMntr.reduce((a, mm) => a + Number(mm.get("zk_watch_count")), 0);
  const conns = memberMntr.map((mm) => mm.get("zk_num_alive_connections"));
  const callerWatches = totalWatches / CALLERS;
  report.zookeeper = {
    znodes: Number(m.get("zk_znode_count")),
    ephemerals: Number(m.get("zk_ephemerals_count")),
    dataBytes: Number(m.get("zk_approximate_data_size")),
    totalWatches,
    dataWatches,
    connections: conns,
    watchesPerCaller: callerWatches,
  };
  say(
    `ZooKeeper holds ${m.get("zk_znode_count")} nodes (${m.get("zk_ephemerals_count")} ` +
      `ephemeral, ~${m.get("zk_approximate_data_size")} bytes of data); ${totalWatches} watches ` +
      `over the members (${dataWatches} of them data watches), i.e. ${callerWatches} per caller; ` +
      `connections per member ${conns.join("/")}`,
  );

  // 4. A provider added, then removed gracefully.
  const probe = new ZooKeeperRegistry({
    connect: zk.connect,
    sessionTimeoutMs: SESSION_MS,
    logger: new ConsoleLogger("ERROR"),
  });
  await probe.resolve("bench.Svc0");
  const added: number[] = [];
  const removed: number[] = [];
  const addedAll: number[] = [];
  const removedAll: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const service = `bench.Svc${(k * 7) % SERVICES}`;
    const reg = { service, methods: ["Call"], host: "127.0.0.1", port: 30_000 + k };
    const t0 = now();
    await probe.register(reg);
    await until(`${service} added`, () => seenAfter(service, PER_SERVICE + 1, t0) !== undefined);
    const a = seenAfter(service, PER_SERVICE + 1, t0)!;
    added.push(...a);
    addedAll.push(Math.max(...a));
    const t1 = now();
    await probe.unregister(reg);
    await until(`${service} removed`, () => seenAfter(service, PER_SERVICE, t1) !== undefined);
    const r = seenAfter(service, PER_SERVICE, t1)!;
    removed.push(...r);
    removedAll.push(Math.max(...r));
  }
  await probe.close();
  report.changes = { added, removed, addedAll, removedAll };
  say(
    `provider added, each watcher: ${dist(added)}; all ${
      PER_CALLER * CALLERS / SERVICES
    } watchers: ${dist(addedAll)}`,
  );
  say(
    `provider removed gracefully, each watcher: ${dist(removed)}; all watchers: ${
      dist(removedAll)
    }`,
  );

  // 5. A provider killed: its node goes when its session expires.
  const killed: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const service = `bench.Svc${(k * 13) % SERVICES}`;
    const victim = spawn(
      new Child(new URL("./_zk_scale_providers.ts", HERE), [
        `--zk=${zk.connect}`,
        `--first=${5000 + ((k * 13) % SERVICES)}`,
        "--count=1",
        `--services=${SERVICES}`,
        `--session-ms=${VICTIM_SESSION_MS}`,
      ]),
    );
    const t0 = now();
    await victim.next((msg) => msg.registered !== undefined);
    await until(
      `${service} victim seen`,
      () => seenAfter(service, PER_SERVICE + 1, t0) !== undefined,
    );
    const t1 = now();
    victim.kill();
    await until(
      `${service} victim gone`,
      () => seenAfter(service, PER_SERVICE, t1) !== undefined,
      60_000,
    );
    killed.push(...seenAfter(service, PER_SERVICE, t1)!);
    await victim.close();
  }
  report.killed = killed;
  say(
    `provider killed (SIGKILL, session timeout ${VICTIM_SESSION_MS} ms), each watcher: ${
      dist(killed)
    }`,
  );

  // 6. Mass restarts.
  const restartProcs = Math.ceil(RESTART / PER_PROC);
  for (const how of ["term", "kill"] as const) {
    await until("steady lists", () => allAt(PER_SERVICE));
    for (const c of callers) c.send("reset");
    await sleep(200);
    for (const h of history.values()) h.length = 0;
    const za = await zxid(leader);
    const cpuBefore = cpu(zk.members, callers, []);
    const t0 = now();
    const old = provs.splice(0, restartProcs);
    if (how === "term") await Promise.all(old.map((p) => p.close()));
    else for (const p of old) p.kill();
    const fresh = old.map((_, i) => spawn(providerProc(zk.connect, i)));
    provs.unshift(...fresh);
    const done = await Promise.all(fresh.map((p) => p.next((msg) => msg.registered !== undefined)));
    const registeredAt = Math.max(...done.map((d) => d.at));
    const zb = await zxid(leader);
    await until("lists whole again", () => allAt(PER_SERVICE));
    // Quiet for 2 s: no late storm.
    await until("no watch callback for 2 s", () => now() - lastCallbackAt > 2000);
    // Provider processes restart here (the CPU of an exited one cannot be read): not counted.
    const cpuAfter = cpu(zk.members, callers, []);
    const cpuWindow = (now() - t0) / 1000;
    const stats = await Promise.all(callers.map(async (c) => {
      c.send("stats");
      return (await c.next((msg) => msg.stats !== undefined)).stats;
    }));
    const refreshes: number[] = [];
    for (const s of stats) {
      for (const [key, n] of Object.entries(s.children as Record<string, number>)) {
        if (key.endsWith("/providers")) refreshes.push(n);
      }
    }
    const getData = stats.reduce((a, s) => a + s.data, 0);
    const callbacks = [...history.values()].map((h) => h.length);
    const txns = zb - za;
    const span = registeredAt - t0;
    const converged = lastCallbackAt - t0;
    const nodeEvents = (2 * RESTART) / SERVICES;
    report[`restart_${how}`] = {
      ms: span,
      txns,
      converged,
      refreshes,
      callbacks,
      getData,
    };
    say(
      `mass restart (${
        how === "term"
          ? "SIGTERM: nodes deleted, then re-created"
          : "SIGKILL: new sessions replace the dead ones' nodes"
      }) of ${RESTART} providers: ` +
        `re-registered in ${ms(span)} (incl. process start); ${txns} transactions, ` +
        `${Math.round(txns / (span / 1000))} txn/s; every caller whole again after ` +
        `${ms(converged)}; ~${nodeEvents} node events per service; refreshes (getChildren) per ` +
        `caller per service: mean ${
          (refreshes.reduce((a, b) => a + b, 0) / refreshes.length).toFixed(2)
        }, ` +
        `p50 ${pct(refreshes, 50)}, max ${Math.max(...refreshes)} (n=${refreshes.length}); ` +
        `callbacks per caller per service: mean ${
          (callbacks.reduce((a, b) => a + b, 0) / callbacks.length).toFixed(2)
        }, ` +
        `max ${Math.max(...callbacks)}; getData ${getData} in total; ` +
        `${Math.round(converged - span)} ms from the last registration to the last caller; ` +
        cpuText(cpuBefore, cpuAfter, cpuWindow),
    );
  }
  // 7. The ensemble's raw capacity from one client process, for scale.
  const cpu0 = { zk: cpu(zk.members, [], []).zk, self: cpuSeconds("self") };
  const ceiling = await zkCeiling(zk.connect);
  const cpu1 = { zk: cpu(zk.members, [], []).zk, self: cpuSeconds("self") };
  report.ceiling = ceiling;
  say(
    `raw capacity (6 clients in this process, 32 requests outstanding each, 5 s each): ` +
      `${Math.round(ceiling.writesPerSecond)} creates/s, ${Math.round(ceiling.readsPerSecond)} ` +
      `getData/s; CPU over 10 s: ZooKeeper members ${(cpu1.zk - cpu0.zk).toFixed(1)} s, this ` +
      `client process ${(cpu1.self - cpu0.self).toFixed(1)} s`,
  );
  say(`load at end: ${(await Deno.readTextFile("/proc/loadavg")).trim()}`);
} finally {
  await Promise.all(children.map((c) => c.close()));
}
const json = flags.get("json");
if (json) await Deno.writeTextFile(json, JSON.stringify(report));
console.log(lines.map((l) => `- ${l}`).join("\n"));
