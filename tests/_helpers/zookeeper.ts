/**
 * Starts a real, throw-away ZooKeeper server for tests and scripts (in the style of nats.deno's
 * test launcher): a temp dir with `zoo.cfg` and a data dir, a free loopback port, the admin
 * server off and every four-letter word allowed.
 *
 * The server comes from, in this order: Docker's `zookeeper` image when a Docker *engine*
 * answers (`docker info` succeeds); `$ZOOKEEPER_HOME` (an Apache tarball); Debian's package
 * (`/usr/share/java/zookeeper.jar`); a `zkServer.sh` found on `PATH`. Set
 * `MPRPC_ZK_BACKEND=local` or `=docker` to force one. `apt-get install zookeeper` (or
 * `scripts/install_zookeeper.sh`) provides the second-best and most common one.
 *
 * {@linkcode connectZkClient} gives tests a plain, promise-based node-zookeeper-client to look
 * at what ZooKeeper itself holds.
 *
 * Ensembles (several servers forming a quorum) are started by zookeeper_ensemble.ts, on the same
 * {@linkcode LaunchedServer}; {@linkcode fourLetterWord} and {@linkcode mntr} ask any server
 * about its state.
 *
 * @module
 */
import { Buffer } from "../../src/deps.ts";
import { zookeeper } from "../../src/deps_zookeeper.ts";
import { closeRawClient, guardReconnects } from "../../src/registry/zookeeper/zk_client_patches.ts";

/** Options of {@linkcode startZooKeeper}. */
export interface ZooKeeperServerOptions {
  /** ZooKeeper's tick in ms; session timeouts are clamped to 2..20 ticks by default. Default 500. */
  tickTime?: number;
  /** Smallest session timeout the server grants, ms. Default `2 * tickTime`. */
  minSessionTimeout?: number;
  /** Largest session timeout the server grants, ms. Default `20 * tickTime`. */
  maxSessionTimeout?: number;
  /** Loopback port to listen on; default a free one. */
  port?: number;
  /** How long to wait for the server to answer `srvr`, ms. Default 30000. */
  startTimeoutMs?: number;
}

/** A running test server; see {@linkcode startZooKeeper}. */
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
  [Symbol.asyncDispose](): Promise<void>;
}

const DEBIAN_JAR = "/usr/share/java/zookeeper.jar";
const INSTALL_HINT = "No ZooKeeper found. Install one with `sudo apt-get install -y zookeeper` " +
  "(or run scripts/install_zookeeper.sh), or set ZOOKEEPER_HOME to an Apache ZooKeeper " +
  "release, or put zkServer.sh on PATH, or start a Docker engine (image `zookeeper`).";

/** How a server process is started, found once per process. */
export type Backend =
  | { kind: "docker" }
  | { kind: "java"; classpath: string }
  | { kind: "script"; script: string };

let backendPromise: Promise<Backend | undefined> | undefined;
let localBackendPromise: Promise<Backend | undefined> | undefined;

/**
 * Whether {@linkcode startZooKeeper} can start a server here (Docker engine or a local install).
 *
 * @example Skipping tests where ZooKeeper is missing
 * ```ts
 * import { zkAvailable } from "./zookeeper.ts";
 * Deno.test({ name: "needs ZooKeeper", ignore: !(await zkAvailable()), fn() {} });
 * ```
 */
export async function zkAvailable(): Promise<boolean> {
  return (await findBackend()) !== undefined;
}

/**
 * Starts a ZooKeeper server on a free loopback port and waits until it serves.
 *
 * @throws {Error} saying how to install ZooKeeper when none can be found, or with the tail of
 *   the server's log when it exits early or does not answer within `startTimeoutMs`.
 *
 * @example A server for one test
 * ```ts
 * import { startZooKeeper } from "./zookeeper.ts";
 * await using zk = await startZooKeeper({ tickTime: 200 });
 * console.log(zk.connect); // 127.0.0.1:<port>
 * ```
 */
export async function startZooKeeper(opts: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
  const backend = await findBackend();
  if (!backend) throw new Error(INSTALL_HINT);
  const tickTime = opts.tickTime ?? 500;
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
  const server = new LaunchedServer(backend, dir, port, opts.startTimeoutMs ?? 30_000);
  try {
    await server.start(true);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/**
 * One server process (standalone, or a member of an ensemble when `quorum`): start, signals,
 * restart, log, stop. Used by {@linkcode startZooKeeper} and tests/_helpers/zookeeper_ensemble.ts.
 */
export class LaunchedServer implements ZooKeeperServer {
  readonly connect: string;
  readonly backend: "docker" | "local";
  #child: Deno.ChildProcess | undefined;
  #pumps: Promise<unknown>[] = [];
  #container: string;
  #stopped: Promise<void> | undefined;
  #crashed = false;
  #terminating = false;

  constructor(
    readonly spec: Backend,
    readonly dir: string,
    readonly port: number,
    readonly startTimeoutMs: number,
    readonly quorum = false,
  ) {
    if (quorum && spec.kind === "docker") {
      throw new Error("ZooKeeper ensemble members need a local install, not Docker");
    }
    this.connect = `127.0.0.1:${port}`;
    this.backend = spec.kind === "docker" ? "docker" : "local";
    this.#container = `mprpc-zk-${port}-${crypto.randomUUID().slice(0, 8)}`;
  }

  get running(): boolean {
    return this.#child !== undefined && !this.#crashed;
  }

  /** Whether the process exited by itself (not halted, killed or stopped by this launcher). */
  get crashed(): boolean {
    return this.#crashed;
  }

  /** The process id while it runs (of `docker run` for Docker). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /**
   * Spawns the process; with `waitServing` (default) resolves once it answers `srvr` as a
   * serving server (an ensemble member serves only once it is part of a quorum).
   */
  async start(first: boolean, waitServing = true): Promise<void> {
    if (this.#stopped) throw new Error(`ZooKeeper on ${this.connect} was stopped for good`);
    const { cmd, args } = this.#command(first);
    const child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { SERVER_JVMFLAGS: jvmFlags().join(" "), ZOO_LOG_DIR: this.dir },
    }).spawn();
    this.#child = child;
    this.#crashed = false;
    void child.status.then(() => {
      // Exited while this launcher neither stopped nor killed it: a crash.
      if (this.#child === child && !this.#terminating) this.#crashed = true;
    });
    this.#pumps = [
      pump(child.stdout, `${this.dir}/server.log`),
      pump(child.stderr, `${this.dir}/server.err.log`),
    ];
    const exited = child.status.then((s) => s);
    if (!waitServing) return;
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const ready = await Promise.race([probe(this.port).then((ok) => ({ ok })), exited]);
      if ("ok" in ready) {
        if (ready.ok) return;
      } else {
        await this.#reap();
        throw new Error(
          `ZooKeeper (${this.backend}) exited early with code ${ready.code} before serving on ` +
            `${this.connect}; log tail:\n${await this.logTail()}`,
        );
      }
      if (Date.now() > deadline) {
        await this.#terminate("SIGKILL");
        throw new Error(
          `ZooKeeper (${this.backend}) did not serve on ${this.connect} within ` +
            `${this.startTimeoutMs} ms; log tail:\n${await this.logTail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  #command(first: boolean): { cmd: string; args: string[] } {
    const cfg = `${this.dir}/zoo.cfg`;
    switch (this.spec.kind) {
      case "docker":
        return first
          ? {
            cmd: "docker",
            args: [
              "run",
              "--name",
              this.#container,
              "-p",
              `127.0.0.1:${this.port}:2181`,
              "-v",
              `${cfg}:/conf/zoo.cfg:ro`,
              "-e",
              `JVMFLAGS=${jvmFlags().join(" ")}`,
              "zookeeper",
            ],
          }
          : { cmd: "docker", args: ["start", "-a", this.#container] };
      case "java":
        return {
          cmd: "java",
          args: [
            ...jvmFlags(),
            "-cp",
            this.spec.classpath,
            this.quorum
              ? "org.apache.zookeeper.server.quorum.QuorumPeerMain"
              : "org.apache.zookeeper.server.ZooKeeperServerMain",
            cfg,
          ],
        };
      case "script":
        return { cmd: this.spec.script, args: ["start-foreground", cfg] };
    }
  }

  async restart(waitServing = true): Promise<void> {
    if (this.#child) await this.#terminate("SIGTERM");
    await this.start(false, waitServing);
  }

  halt(): Promise<void> {
    return this.#terminate("SIGTERM");
  }

  kill(): Promise<void> {
    return this.#terminate("SIGKILL");
  }

  async pause(): Promise<void> {
    if (this.spec.kind === "docker") await run("docker", ["pause", this.#container]);
    else this.#child?.kill("SIGSTOP");
  }

  async resume(): Promise<void> {
    if (this.spec.kind === "docker") await run("docker", ["unpause", this.#container]);
    else this.#child?.kill("SIGCONT");
  }

  async logTail(lines = 30): Promise<string> {
    let text = "";
    for (const name of ["server.log", "server.err.log"]) {
      try {
        text += await Deno.readTextFile(`${this.dir}/${name}`);
      } catch { /* not written yet */ }
    }
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  }

  stop(): Promise<void> {
    return this.#stopped ??= (async () => {
      await this.#terminate("SIGTERM");
      if (this.spec.kind === "docker") await run("docker", ["rm", "-fv", this.#container]);
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #terminate(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#terminating = true;
    if (this.spec.kind === "docker") {
      await run(
        "docker",
        signal === "SIGKILL" ? ["kill", this.#container] : [
          "stop",
          "-t",
          "5",
          this.#container,
        ],
      );
    } else {
      try {
        child.kill("SIGCONT"); // a paused JVM cannot handle SIGTERM
        child.kill(signal);
      } catch { /* already exited */ }
    }
    // A JVM that ignores SIGTERM for 5 s gets SIGKILL.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
        resolve();
      }, 5000);
    });
    await Promise.race([child.status, forced]);
    clearTimeout(timer);
    await this.#reap();
    this.#terminating = false;
  }

  /** Awaits the exited process and its output pumps. */
  async #reap(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child) return;
    await child.status;
    await Promise.all(this.#pumps);
    this.#pumps = [];
  }
}

/**
 * Appends a stream to a file chunk by chunk (a file's `writable` may hold data until closed, and
 * the log must be readable while the server runs). Settles when the stream ends.
 */
async function pump(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  using file = await Deno.open(path, { append: true, create: true });
  try {
    for await (const chunk of stream) {
      let off = 0;
      while (off < chunk.length) off += await file.write(chunk.subarray(off));
    }
  } catch { /* the process went away */ }
}

/**
 * Asks the server `srvr`; true once it answers as a serving ZooKeeper. A probe gives up after
 * 1 s (a starting server may answer "not currently serving" and keep the connection open).
 */
async function probe(port: number): Promise<boolean> {
  return (await serverMode(port)) !== undefined;
}

/** What `srvr` says the server is, or undefined when it does not serve (or does not answer). */
export async function serverMode(
  port: number,
): Promise<"leader" | "follower" | "observer" | "standalone" | undefined> {
  const text = await fourLetterWord(
    port,
    "srvr",
    1000,
    (t) => t.includes("not currently serving") || /Mode: \w+/.test(t),
  );
  if (!text.includes("Zookeeper version")) return undefined;
  const mode = /Mode: (leader|follower|observer|standalone)/.exec(text)?.[1];
  return mode as "leader" | "follower" | "observer" | "standalone" | undefined;
}

/**
 * Sends a four-letter word (`srvr`, `mntr`, `wchs`, `cons`, ...; the launchers allow them all)
 * and returns the answer, `""` when the server is unreachable. Reads until the server closes
 * the connection, `enough(text)` holds, or `timeoutMs` passes.
 */
export async function fourLetterWord(
  port: number,
  word: string,
  timeoutMs = 2000,
  enough: (text: string) => boolean = () => false,
): Promise<string> {
  let conn: Deno.TcpConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const close = () => {
    try {
      conn?.close();
    } catch { /* already closed */ }
    conn = undefined;
  };
  let text = "";
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    timer = setTimeout(close, timeoutMs);
    await conn.write(new TextEncoder().encode(word));
    const buf = new Uint8Array(16384);
    const decoder = new TextDecoder();
    while (conn) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
      if (enough(text)) break;
    }
  } catch {
    /* refused, reset or closed by the timer: return what came */
  } finally {
    clearTimeout(timer);
    close();
  }
  return text;
}

/**
 * `mntr` as a map (`zk_server_state`, `zk_znode_count`, `zk_watch_count`,
 * `zk_ephemerals_count`, ...); empty when the server does not serve.
 */
export async function mntr(port: number): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of (await fourLetterWord(port, "mntr")).split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1).trim());
  }
  return out;
}

/** A port that was free on 127.0.0.1 a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** JVM flags of every launched server: a small heap, fast start. */
export function jvmFlags(): string[] {
  return [
    "-Xms32m",
    "-Xmx256m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.net.preferIPv4Stack=true",
    "-Dzookeeper.admin.enableServer=false",
    "-Dzookeeper.jmx.log4j.disable=true",
    "-Dzookeeper.snapshot.trust.empty=true",
    // Ensembles: quick re-elections on a loaded machine (a dead member is given up fast, and
    // election notifications back off to at most 1 s instead of 60 s).
    "-Dzookeeper.cnxTimeout=1000",
    "-Dzookeeper.fastleader.maxNotificationInterval=1000",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
  ];
}

/** Runs a command to completion; true when it exits 0. Output is discarded. */
async function run(cmd: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

function findBackend(): Promise<Backend | undefined> {
  return backendPromise ??= (async (): Promise<Backend | undefined> => {
    const forced = Deno.env.get("MPRPC_ZK_BACKEND");
    if (forced !== "local" && await run("docker", ["info"])) {
      if (
        await run("docker", ["image", "inspect", "zookeeper"]) ||
        await run("docker", ["pull", "zookeeper"])
      ) return { kind: "docker" };
    }
    if (forced === "docker") return undefined;
    return await findLocalBackend();
  })();
}

/**
 * A ZooKeeper installed on this machine (never Docker): `$ZOOKEEPER_HOME`, Debian's package, or
 * `zkServer.sh` on `PATH`; undefined when there is none. Ensembles need one.
 */
export function findLocalBackend(): Promise<Backend | undefined> {
  return localBackendPromise ??= (async (): Promise<Backend | undefined> => {
    const hasJava = await run("java", ["-version"]);
    const home = Deno.env.get("ZOOKEEPER_HOME");
    if (hasJava && home && await exists(home)) {
      return { kind: "java", classpath: [`${home}/lib/*`, `${home}/*`, `${home}/conf`].join(":") };
    }
    if (hasJava && await exists(DEBIAN_JAR)) {
      // The jar's manifest Class-Path names its dependencies (jute, netty, slf4j-api, ...);
      // slf4j-simple is added so the server logs (to stderr, i.e. our log file).
      const cp = [DEBIAN_JAR];
      for (const extra of ["/usr/share/java/slf4j-simple.jar", "/etc/zookeeper/conf"]) {
        if (await exists(extra)) cp.push(extra);
      }
      return { kind: "java", classpath: cp.join(":") };
    }
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      if (dir && await exists(`${dir}/zkServer.sh`)) {
        return { kind: "script", script: `${dir}/zkServer.sh` };
      }
    }
    return undefined;
  })();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Options of {@linkcode connectZkClient}. */
export interface ZkClientOptions {
  /** Requested session timeout, ms. Default 30000 (the server clamps it). */
  sessionTimeout?: number;
  /** Join an existing session: its id (8 bytes) ... */
  sessionId?: Buffer;
  /** ... and password (16 bytes). */
  sessionPassword?: Buffer;
  /** `"user:password"` added as digest auth before connecting. */
  digest?: string;
  /** How long to wait for the connection, ms. Default 10000. */
  timeoutMs?: number;
}

/** A node's metadata, as node-zookeeper-client returns it (the fields tests use). */
export interface ZkStat {
  /** Session id owning an ephemeral node (8 bytes, all zero for persistent nodes). */
  ephemeralOwner: Buffer;
  /** Data version. */
  version: number;
  /** Number of children. */
  numChildren: number;
}

/** An ACL entry, as node-zookeeper-client returns it. */
export interface ZkAclEntry {
  permission: number;
  id: { scheme: string; id: string };
}

/** A plain node-zookeeper-client with promise methods; see {@linkcode connectZkClient}. */
export interface ZkClient {
  /** The underlying node-zookeeper-client instance. */
  // deno-lint-ignore no-explicit-any
  readonly raw: any;
  /** The session id (8 bytes). */
  sessionId(): Buffer;
  /** The session password (16 bytes). */
  sessionPassword(): Buffer;
  /** Creates a node; `mode` is a `zookeeper.CreateMode` value (default persistent). */
  create(path: string, data?: Buffer, mode?: number, acl?: unknown[]): Promise<string>;
  /** Creates a node and its missing parents (persistent). */
  mkdirp(path: string): Promise<void>;
  /** The node's data and stat. */
  getData(path: string): Promise<{ data: Buffer | undefined; stat: ZkStat }>;
  /** Replaces the node's data. */
  setData(path: string, data: Buffer): Promise<void>;
  /** The node's children (sorted). */
  getChildren(path: string): Promise<string[]>;
  /** The node's stat, or null when it does not exist. */
  exists(path: string): Promise<ZkStat | null>;
  /** Deletes a node (any version). */
  remove(path: string): Promise<void>;
  /** The node's ACL. */
  getACL(path: string): Promise<ZkAclEntry[]>;
  /** Closes the session (deleting its ephemeral nodes) and the socket. Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Connects a plain node-zookeeper-client, for tests that inspect ZooKeeper directly.
 *
 * @example Reading what a registry wrote
 * ```ts
 * import { connectZkClient, startZooKeeper } from "./zookeeper.ts";
 * await using zk = await startZooKeeper();
 * await using client = await connectZkClient(zk.connect);
 * await client.mkdirp("/a/b");
 * console.log(await client.getChildren("/a")); // ["b"]
 * ```
 */
export async function connectZkClient(
  connect: string,
  opts: ZkClientOptions = {},
): Promise<ZkClient> {
  const raw = zookeeper.createClient(connect, {
    sessionTimeout: opts.sessionTimeout ?? 30_000,
    spinDelay: 100,
    retries: 0,
    ...(opts.sessionId ? { sessionId: opts.sessionId } : {}),
    ...(opts.sessionPassword ? { sessionPassword: opts.sessionPassword } : {}),
  });
  if (opts.digest) raw.addAuthInfo("digest", Buffer.from(opts.digest));
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let closed = false;
  let spin: ReturnType<typeof setTimeout> | undefined;
  guardReconnects(raw, 100, () => closed, (t) => spin = t);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closing ??= (() => {
      closed = true;
      clearTimeout(spin);
      return closeRawClient(raw, true);
    })();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void close().then(() =>
        reject(new Error(`ZooKeeper ${connect} unreachable after ${timeoutMs} ms`))
      );
    }, timeoutMs);
    raw.once("connected", () => {
      clearTimeout(timer);
      resolve();
    });
    raw.once("expired", () => {
      clearTimeout(timer);
      void close().then(() => reject(new Error(`ZooKeeper session expired on connect`)));
    });
    raw.connect();
  });
  const call = <T>(fn: (cb: (err: unknown, ...rest: unknown[]) => void) => void) =>
    new Promise<T>((resolve, reject) =>
      fn((err, ...rest) => err ? reject(err) : resolve(rest as unknown as T))
    );
  return {
    raw,
    sessionId: () => raw.getSessionId(),
    sessionPassword: () => raw.getSessionPassword(),
    create: async (path, data, mode, acl) =>
      (await call<[string]>((cb) =>
        raw.create(
          path,
          data ?? Buffer.alloc(0),
          acl ?? zookeeper.ACL.OPEN_ACL_UNSAFE,
          mode ?? 0,
          cb,
        )
      ))[0],
    mkdirp: async (path) => {
      await call((cb) => raw.mkdirp(path, cb));
    },
    getData: async (path) => {
      const [data, stat] = await call<[Buffer | undefined, ZkStat]>((cb) => raw.getData(path, cb));
      return { data, stat };
    },
    setData: async (path, data) => {
      await call((cb) => raw.setData(path, data, -1, cb));
    },
    getChildren: async (path) =>
      (await call<[string[]]>((cb) => raw.getChildren(path, cb)))[0].sort(),
    exists: async (path) => (await call<[ZkStat | null]>((cb) => raw.exists(path, cb)))[0],
    remove: async (path) => {
      await call((cb) => raw.remove(path, -1, cb));
    },
    getACL: async (path) => (await call<[ZkAclEntry[]]>((cb) => raw.getACL(path, cb)))[0],
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Expires a live session, for tests: on a second connection, joins the session (same id and
 * password) and closes it in the same write, so the owner cannot win it back in between. The
 * server deletes the session's ephemeral nodes; the owner's client learns on reconnection that
 * its session expired. The password is derived from the id as ZooKeeper's standalone server
 * does (`new java.util.Random(id ^ 0xB3415C00)`), so only the id (`"0x..."`) is needed.
 *
 * @example
 * ```ts ignore
 * await expireSession(zk.connect, registry.sessionId!);
 * ```
 */
export async function expireSession(connect: string, sessionId: string): Promise<void> {
  const id = BigInt.asUintN(64, BigInt(sessionId));
  const password = javaRandomBytes(id ^ 0xB3415C00n, 16);
  const colon = connect.lastIndexOf(":");
  const addr = { hostname: connect.slice(0, colon), port: Number(connect.slice(colon + 1)) };
  // The owner reconnects at once and may win the session back before our close is processed
  // (the close then fails with SESSION_MOVED), or a reply may be lost to a reset: repeat until
  // the server answers a join with "no such session".
  for (let attempt = 0; attempt < 50; attempt++) {
    const [connectReply] = await joinAndClose(addr, id, password);
    if (connectReply && connectReply.getInt32(4) <= 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not expire session ${sessionId}: its owner kept winning it back`);
}

/** Sends ConnectRequest + closeSession in one write; returns the reply frames (without length). */
async function joinAndClose(
  addr: { hostname: string; port: number },
  id: bigint,
  password: Uint8Array,
): Promise<DataView[]> {
  const out = new DataView(new ArrayBuffer(4 + 44 + 4 + 8));
  out.setInt32(0, 44); // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd
  out.setInt32(4, 0);
  out.setBigInt64(8, 0n);
  out.setInt32(16, 30_000);
  out.setBigUint64(20, id);
  out.setInt32(28, 16);
  new Uint8Array(out.buffer).set(password, 32);
  out.setInt32(48, 8); // RequestHeader { xid: 1, type: closeSession (-11) }
  out.setInt32(52, 1);
  out.setInt32(56, -11);
  const conn = await Deno.connect(addr);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, 5000);
  let got = new Uint8Array(0);
  try {
    await conn.write(new Uint8Array(out.buffer));
    const buf = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      const next = new Uint8Array(got.length + n);
      next.set(got);
      next.set(buf.subarray(0, n), got.length);
      got = next;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the server or the timer */ }
  }
  const frames: DataView[] = [];
  for (let off = 0; off + 4 <= got.length;) {
    const len = new DataView(got.buffer, off).getInt32(0);
    if (off + 4 + len > got.length) break;
    frames.push(new DataView(got.buffer, off + 4, len));
    off += 4 + len;
  }
  return frames;
}

/** `new java.util.Random(seed).nextBytes(new byte[n])`. */
function javaRandomBytes(seed: bigint, n: number): Uint8Array {
  const mask = (1n << 48n) - 1n;
  let s = (seed ^ 0x5DEECE66Dn) & mask;
  const next32 = () => {
    s = (s * 0x5DEECE66Dn + 0xBn) & mask;
    return Number(BigInt.asIntN(32, s >> 16n));
  };
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    let rnd = next32();
    for (let k = Math.min(n - i, 4); k-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}
