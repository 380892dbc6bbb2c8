/**
 * Starts a real, throw-away ZooKeeper *ensemble* on loopback: `size`
 * servers (3 by default), each with its own client, quorum and election port, its own data dir
 * with `myid`, and the same `server.N=127.0.0.1:<quorum>:<election>` lines; every four-letter
 * word allowed, admin server off, a small JVM heap per member (see `jvmFlags` in _backend.ts).
 *
 * Members can be killed (SIGKILL), halted (SIGTERM), frozen and restarted one by one; the
 * ensemble finds its leader with `srvr`. Needs a local ZooKeeper (Debian package,
 * `$ZOOKEEPER_HOME` or `zkServer.sh`): Docker is not used here.
 *
 * @module
 */
import { type Backend, findLocalBackend } from "./_backend.ts";
import { mntr, serverMode } from "./_four_letter_words.ts";
import { LaunchedServer } from "./_launched_server.ts";

/**
 * Options of {@linkcode startZooKeeperEnsemble}.
 *
 * @example Five members with a fast tick
 * ```ts
 * import type { ZooKeeperEnsembleOptions } from "./mod.ts";
 * const options: ZooKeeperEnsembleOptions = { size: 5, tickTime: 200 };
 * console.log(options.size); // 5
 * ```
 */
export interface ZooKeeperEnsembleOptions {
  /** Number of servers (odd, 1..7). Default 3. */
  size?: number;
  /** ZooKeeper's tick in ms. Default 500. */
  tickTime?: number;
  /** Smallest session timeout granted, ms. Default `2 * tickTime`. */
  minSessionTimeout?: number;
  /** Largest session timeout granted, ms. Default `20 * tickTime`. */
  maxSessionTimeout?: number;
  /** Client ports to use (one per member); default free ones. */
  clientPorts?: number[];
  /** How long to wait for a leader and every member serving, ms. Default 60000. */
  startTimeoutMs?: number;
}

/**
 * What `srvr` says a member is; undefined when it does not serve (down, or no quorum).
 *
 * @example
 * ```ts
 * import type { MemberMode } from "./mod.ts";
 * function describe(mode: MemberMode): string {
 *   return mode ?? "not serving";
 * }
 * console.log(describe(undefined)); // "not serving"
 * ```
 */
export type MemberMode = "leader" | "follower" | "observer" | "standalone" | undefined;

/**
 * One server of a {@linkcode ZooKeeperEnsemble}.
 *
 * @example Freeze a follower, then thaw it
 * ```ts ignore
 * import { startZooKeeperEnsemble } from "./mod.ts";
 * await using zk = await startZooKeeperEnsemble();
 * const leader = await zk.waitQuorum();
 * const follower = zk.members.find((m) => m !== leader)!;
 * await follower.pause();
 * await follower.resume();
 * ```
 */
export interface ZooKeeperMember {
  /** Its `myid` (1..size). */
  readonly id: number;
  /** `"127.0.0.1:<clientPort>"`. */
  readonly connect: string;
  /** The client port. */
  readonly port: number;
  /** Whether its process is up (not halted, killed or crashed). */
  readonly running: boolean;
  /** Its JVM's process id while it runs. */
  readonly pid: number | undefined;
  /** What `srvr` says it is now. */
  mode(): Promise<MemberMode>;
  /** Its `mntr` answer as a map (empty when it does not serve). */
  mntr(): Promise<Map<string, string>>;
  /** SIGKILL (a crash); its data is kept for `restart()`. */
  kill(): Promise<void>;
  /** SIGTERM, awaited; its data is kept for `restart()`. */
  halt(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers. */
  pause(): Promise<void>;
  /** SIGCONT after `pause()`. */
  resume(): Promise<void>;
  /**
   * Stops it if it runs and starts it again with the same data and ports. With `waitServing`
   * (default true) resolves once it serves, i.e. once it is part of a quorum.
   */
  restart(options?: { waitServing?: boolean }): Promise<void>;
  /** The tail of its log. */
  logTail(lines?: number): Promise<string>;
}

/**
 * A running ensemble; see {@linkcode startZooKeeperEnsemble}. `stop()` (or leaving an
 * `await using` scope) ends every member and deletes the temp dir.
 *
 * @example Clients take the whole connect string
 * ```ts ignore
 * import { startZooKeeperEnsemble } from "./mod.ts";
 * await using zk = await startZooKeeperEnsemble({ size: 3 });
 * console.log(zk.connect); // 127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
 * ```
 */
export interface ZooKeeperEnsemble extends AsyncDisposable {
  /** `"127.0.0.1:p1,127.0.0.1:p2,..."`, for clients. */
  readonly connect: string;
  /** The members, by `myid` order. */
  readonly members: readonly ZooKeeperMember[];
  /** The temp dir holding one sub-dir per member. */
  readonly dir: string;
  /**
   * Waits until a quorum serves: one running member is leader and every other running member
   * serves (pass `except` to ignore members expected not to, e.g. a frozen one); returns the
   * leader.
   *
   * @throws {Error} with the members' modes when that does not happen within `timeoutMs`, or at
   *   once with its log tail when a member's process exited by itself.
   */
  waitQuorum(timeoutMs?: number, except?: ZooKeeperMember[]): Promise<ZooKeeperMember>;
  /** Stops every member, awaits the processes, deletes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Whether {@linkcode startZooKeeperEnsemble} can run here (a local ZooKeeper install).
 *
 * @returns true when a local install was found.
 *
 * @example
 * ```ts
 * import { zkEnsembleAvailable } from "./mod.ts";
 * Deno.test({ name: "needs an ensemble", ignore: !(await zkEnsembleAvailable()), fn() {} });
 * ```
 */
export async function zkEnsembleAvailable(): Promise<boolean> {
  return (await findLocalBackend()) !== undefined;
}

/**
 * Starts an ensemble on loopback and waits until it has a leader and every member serves.
 *
 * @param opts Size, tick, session timeout bounds, client ports and start timeout; all optional.
 * @returns The running ensemble.
 *
 * @throws {Error} when no local ZooKeeper is installed, for a bad size, or with the members'
 *   log tails when no quorum forms within `startTimeoutMs`.
 *
 * @example Three servers, the leader killed
 * ```ts ignore
 * import { startZooKeeperEnsemble } from "./mod.ts";
 * await using zk = await startZooKeeperEnsemble();
 * const leader = await zk.waitQuorum();
 * await leader.kill();
 * const next = await zk.waitQuorum(30_000, [leader]);
 * ```
 */
export async function startZooKeeperEnsemble(
  opts: ZooKeeperEnsembleOptions = {},
): Promise<ZooKeeperEnsemble> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > 7 || size % 2 === 0) {
    throw new RangeError(`Ensemble size must be an odd number from 1 to 7, got ${size}`);
  }
  if (opts.clientPorts !== undefined && opts.clientPorts.length !== size) {
    throw new RangeError(`clientPorts must have ${size} ports, got ${opts.clientPorts.length}`);
  }
  const backend = await findLocalBackend();
  if (!backend) {
    throw new Error(
      "A ZooKeeper ensemble needs a local install: `sudo apt-get install -y zookeeper` " +
        "(or scripts/install_zookeeper.sh), or ZOOKEEPER_HOME, or zkServer.sh on PATH",
    );
  }
  // A port picked free may be taken by another process before the member binds it (another
  // test launching servers at the same time): the member then exits, and a fresh set of ports is
  // tried. Ports given by the caller are not changed, so those get one attempt.
  const attempts = opts.clientPorts === undefined ? 3 : 1;
  for (let attempt = 1;; attempt++) {
    try {
      return await launchEnsemble(size, backend, opts);
    } catch (err) {
      if (attempt >= attempts || !(err instanceof MemberExitedError)) throw err;
    }
  }
}

async function launchEnsemble(
  size: number,
  backend: Backend,
  opts: ZooKeeperEnsembleOptions,
): Promise<ZooKeeperEnsemble> {
  const tickTime = opts.tickTime ?? 500;
  const dir = await Deno.makeTempDir({ prefix: "mprpc_zk_ensemble_" });
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const ports = ids.map((id) => ({
    client: opts.clientPorts?.[id - 1] ?? stablePort(),
    quorum: stablePort(),
    election: stablePort(),
  }));
  const servers = ids.map((id) =>
    `server.${id}=127.0.0.1:${ports[id - 1]!.quorum}:${ports[id - 1]!.election}`
  );
  const members: Member[] = [];
  for (const id of ids) {
    const memberDir = `${dir}/${id}`;
    await Deno.mkdir(`${memberDir}/data`, { recursive: true });
    await Deno.writeTextFile(`${memberDir}/data/myid`, `${id}\n`);
    await Deno.writeTextFile(
      `${memberDir}/zoo.cfg`,
      [
        `tickTime=${tickTime}`,
        "initLimit=20",
        "syncLimit=10",
        `dataDir=${memberDir}/data`,
        `clientPort=${ports[id - 1]!.client}`,
        "clientPortAddress=127.0.0.1",
        `minSessionTimeout=${opts.minSessionTimeout ?? 2 * tickTime}`,
        `maxSessionTimeout=${opts.maxSessionTimeout ?? 20 * tickTime}`,
        "admin.enableServer=false",
        "4lw.commands.whitelist=*",
        "forceSync=no",
        "maxClientCnxns=0",
        "reconfigEnabled=false",
        "standaloneEnabled=false",
        ...servers,
        "",
      ].join("\n"),
    );
    members.push(new Member(id, backend, memberDir, ports[id - 1]!.client, opts.startTimeoutMs));
  }
  const ensemble = new Ensemble(dir, members);
  try {
    for (const m of members) await m.server.start(true, false);
    await ensemble.waitQuorum(opts.startTimeoutMs ?? 60_000);
  } catch (err) {
    await ensemble.stop();
    throw err;
  }
  return ensemble;
}

const handedOut = new Set<number>();

/** A member's process exited by itself (e.g. one of its ports was taken). */
class MemberExitedError extends Error {
  override name = "MemberExitedError";
}

/**
 * A free loopback port *below* Linux's ephemeral range (32768..60999): a member restarted after
 * a kill must bind its ports again, and a port from the ephemeral range may meanwhile be the
 * source port of some outgoing connection (members reconnecting to each other), which makes
 * the bind fail.
 */
function stablePort(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    // Never the same port twice in one process (two members, or two ensembles of one run).
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch { /* taken: try another */ }
  }
  throw new Error("No free loopback port found in 20000..31999");
}

class Member implements ZooKeeperMember {
  readonly server: LaunchedServer;
  constructor(
    readonly id: number,
    backend: Backend,
    dir: string,
    readonly port: number,
    startTimeoutMs = 60_000,
  ) {
    this.server = new LaunchedServer(backend, dir, port, startTimeoutMs, true);
  }
  get connect(): string {
    return this.server.connect;
  }
  get running(): boolean {
    return this.server.running;
  }
  get pid(): number | undefined {
    return this.server.pid;
  }
  mode(): Promise<MemberMode> {
    return this.running ? serverMode(this.port) : Promise.resolve(undefined);
  }
  mntr(): Promise<Map<string, string>> {
    return mntr(this.port);
  }
  kill(): Promise<void> {
    return this.server.kill();
  }
  halt(): Promise<void> {
    return this.server.halt();
  }
  pause(): Promise<void> {
    return this.server.pause();
  }
  resume(): Promise<void> {
    return this.server.resume();
  }
  restart(options: { waitServing?: boolean } = {}): Promise<void> {
    return this.server.restart(options.waitServing ?? true);
  }
  logTail(lines?: number): Promise<string> {
    return this.server.logTail(lines);
  }
}

class Ensemble implements ZooKeeperEnsemble {
  readonly connect: string;
  #stopped: Promise<void> | undefined;

  constructor(readonly dir: string, readonly members: readonly Member[]) {
    this.connect = members.map((m) => m.connect).join(",");
  }

  async waitQuorum(timeoutMs = 30_000, except: ZooKeeperMember[] = []): Promise<ZooKeeperMember> {
    const deadline = Date.now() + timeoutMs;
    let modes: MemberMode[] = [];
    for (;;) {
      const crashed = this.members.find((m) => m.server.crashed && !except.includes(m));
      if (crashed) {
        throw new MemberExitedError(
          `ZooKeeper ensemble member ${crashed.id} (${crashed.connect}) exited by itself; log ` +
            `tail:\n${await crashed.logTail(15)}`,
        );
      }
      const watched = this.members.filter((m) => m.running && !except.includes(m));
      modes = await Promise.all(this.members.map((m) => except.includes(m) ? undefined : m.mode()));
      const leaders = this.members.filter((_, i) => modes[i] === "leader");
      if (
        leaders.length === 1 && watched.every((m) => modes[this.members.indexOf(m)] !== undefined)
      ) return leaders[0]!;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const tails = await Promise.all(
      this.members.map(async (m, i) =>
        `member ${m.id} (${m.connect}, ${m.running ? "running" : "down"}, ${
          modes[i] ?? "not serving"
        }):\n${await m.logTail(8)}`
      ),
    );
    throw new Error(
      `ZooKeeper ensemble has no serving quorum after ${timeoutMs} ms\n${tails.join("\n")}`,
    );
  }

  stop(): Promise<void> {
    return this.#stopped ??= (async () => {
      await Promise.all(this.members.map((m) => m.server.stop()));
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
