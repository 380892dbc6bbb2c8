/**
 * One ZooKeeper server process (standalone, or a member of an ensemble): start, signals,
 * restart, log, stop. Shared by {@linkcode startZooKeeper} and {@linkcode startZooKeeperEnsemble}.
 *
 * @module
 */
import { type Backend, jvmFlags, run } from "./_backend.ts";
import { serverMode } from "./_four_letter_words.ts";

/**
 * One server process (standalone, or a member of an ensemble when `quorum`): start, signals,
 * restart, log, stop. Used by zookeeper_server.ts (which hands it out as a `ZooKeeperServer`)
 * and zookeeper_ensemble.ts.
 */
export class LaunchedServer {
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
