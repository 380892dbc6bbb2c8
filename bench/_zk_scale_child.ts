/**
 * A child process of bench/zk_scale.ts: `deno run` of a module, JSON lines on stdout, commands
 * on stdin, stderr passed through.
 *
 * @module
 */

/** Options of {@linkcode Child}. */
export interface ChildOptions {
  /** Run with `--expose-gc` (for heap measurements). */
  gc?: boolean;
  /** Called with every JSON line the child prints. */
  // deno-lint-ignore no-explicit-any
  onLine?: (msg: any) => void;
}

/**
 * A running child module.
 *
 * @example
 * ```ts ignore
 * const c = new Child(new URL("./_zk_scale_providers.ts", import.meta.url), ["--count=10"]);
 * await c.next((m) => m.registered !== undefined);
 * await c.close();
 * ```
 */
export class Child {
  #proc: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  // deno-lint-ignore no-explicit-any
  #waiters: Array<{ pred: (m: any) => boolean; resolve: (m: any) => void }> = [];
  // deno-lint-ignore no-explicit-any
  #seen: any[] = [];
  #reader: Promise<void>;
  #closed: Promise<void> | undefined;

  /** Spawns `deno run -A module ...args`. */
  constructor(module: URL, args: string[], options: ChildOptions = {}) {
    const proc = this.#proc = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...(options.gc ? ["--v8-flags=--expose-gc"] : []),
        module.pathname,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#proc.stdin.getWriter();
    this.#reader = (async () => {
      const decoder = new TextDecoder();
      let buffered = "";
      for await (const chunk of proc.stdout) {
        buffered += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          let msg;
          try {
            msg = JSON.parse(line);
          } catch {
            continue;
          }
          options.onLine?.(msg);
          const w = this.#waiters.findIndex((x) => x.pred(msg));
          if (w >= 0) this.#waiters.splice(w, 1)[0]!.resolve(msg);
          else if (!msg.w) this.#seen.push(msg);
        }
      }
    })();
  }

  /** The first line (already printed or to come) that `pred` accepts. */
  // deno-lint-ignore no-explicit-any
  next(pred: (m: any) => boolean): Promise<any> {
    const i = this.#seen.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.#seen.splice(i, 1)[0]);
    return new Promise((resolve) => this.#waiters.push({ pred, resolve }));
  }

  /** The child's process id. */
  get pid(): number {
    return this.#proc.pid;
  }

  /** Writes one command line. */
  send(cmd: string): void {
    void this.#writer.write(new TextEncoder().encode(cmd + "\n")).catch(() => {
      /* the child is gone: nothing to tell it */
    });
  }

  /** SIGKILL. */
  kill(): void {
    try {
      this.#proc.kill("SIGKILL");
    } catch { /* exited */ }
  }

  /** Ends stdin (the child closes gracefully), SIGKILL after 20 s; awaits the exit. */
  close(): Promise<void> {
    return this.#closed ??= (async () => {
      await this.#writer.close().catch(() => {});
      const timer = setTimeout(() => this.kill(), 20_000);
      await this.#proc.status;
      clearTimeout(timer);
      await this.#reader.catch(() => {});
    })();
  }
}
