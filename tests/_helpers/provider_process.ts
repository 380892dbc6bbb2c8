/**
 * Starts {@linkcode ./child_provider.ts} as a child process (optionally inside a network
 * namespace) and controls it: freeze, thaw, kill, stop.
 *
 * @module
 */

const SCRIPT = new URL("./child_provider.ts", import.meta.url);
const REPO = new URL("../../", import.meta.url);

/** Options of {@linkcode spawnProvider}. */
export interface SpawnProviderOptions {
  /** Name the provider puts in `Echo` responses (`inner.label`). */
  name: string;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** ZooKeeper connect string to register in. */
  zk?: string;
  /** More `--key=value` arguments for the child (see child_provider.ts). */
  args?: string[];
  /** Run inside this network namespace (`ip netns exec <netns> deno run ...`). */
  netns?: string;
  /** How long to wait for the "ready" line, ms; default 20000. */
  startTimeoutMs?: number;
}

/** A running child provider. */
export interface ProviderProcess extends AsyncDisposable {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** `host:port`. */
  readonly address: string;
  /** Sends a signal (SIGSTOP, SIGCONT, SIGKILL, SIGTERM); ignores an exited child. */
  signal(sig: Deno.Signal): void;
  /** Resolves with the exit status once the child has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Tokens of the `Sleep` calls it ran, with `--report-runs=1` (complete once stopped). */
  readonly ran: string[];
  /** What the child wrote to stderr so far (last 64 KiB). */
  stderr(): string;
  /**
   * Ends the child: SIGCONT (a frozen process cannot die gracefully), then SIGTERM, then
   * SIGKILL after `graceMs` (default 3000); awaits its exit and its pipes. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Spawns a kitchen provider process and waits until it serves.
 *
 * @example
 * ```ts ignore
 * await using p = await spawnProvider({ name: "a" });
 * p.signal("SIGSTOP");
 * ```
 */
export async function spawnProvider(options: SpawnProviderOptions): Promise<ProviderProcess> {
  const denoArgs = [
    "run",
    "-A",
    "--unstable-net",
    SCRIPT.pathname,
    `--name=${options.name}`,
    `--host=${options.host ?? "127.0.0.1"}`,
    ...(options.zk ? [`--zk=${options.zk}`] : []),
    ...(options.args ?? []),
  ];
  const [cmd, args] = options.netns
    ? ["ip", ["netns", "exec", options.netns, Deno.execPath(), ...denoArgs]]
    : [Deno.execPath(), denoArgs];
  const child = new Deno.Command(cmd, {
    args,
    cwd: REPO.pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let errText = "";
  const errPump = child.stderr.pipeTo(
    new WritableStream({
      write(chunk) {
        errText = (errText + new TextDecoder().decode(chunk)).slice(-65536);
      },
    }),
  ).catch(() => {});
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 3000): Promise<void> =>
    stopping ??= (async () => {
      send("SIGCONT");
      send("SIGTERM");
      await stdin.close().catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        status,
        new Promise<void>((r) => timer = setTimeout(r, graceMs)),
      ]);
      clearTimeout(timer);
      send("SIGKILL");
      await status;
      await outPump;
      await errPump;
    })();
  const send = (sig: Deno.Signal) => {
    if (exited) return;
    try {
      child.kill(sig);
    } catch { /* exited meanwhile */ }
  };

  // Read stdout until the ready line, then drain the rest in the background.
  let buffered = "";
  let ready: { host: string; port: number; pid: number } | undefined;
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => {
    timer = setTimeout(() => r("timeout"), Math.max(0, deadline - Date.now()));
  });
  try {
    while (ready === undefined) {
      const next = await Promise.race([lines.read(), timeout]);
      if (next === "timeout" || next.done) break;
      buffered += next.value;
      for (const line of buffered.split("\n").slice(0, -1)) {
        try {
          const msg = JSON.parse(line);
          if (msg.ready) ready = msg;
        } catch { /* not our line */ }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    }
  } finally {
    clearTimeout(timer);
  }
  const ran: string[] = [];
  const collect = (line: string) => {
    if (!line.startsWith('{"ran":')) return;
    try {
      ran.push(JSON.parse(line).ran);
    } catch { /* not our line */ }
  };
  for (const line of buffered.split("\n").slice(0, -1)) collect(line);
  buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
  const outPump = (async () => {
    try {
      for (let next = await lines.read(); !next.done; next = await lines.read()) {
        buffered += next.value;
        for (const line of buffered.split("\n").slice(0, -1)) collect(line);
        buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
      }
    } catch { /* the child died */ }
  })();
  if (ready === undefined) {
    await stop(0);
    throw new Error(
      `child provider ${options.name} did not start within ${
        options.startTimeoutMs ?? 20_000
      } ms; stderr:\n${errText}`,
    );
  }
  const { host, port, pid } = ready;
  return {
    name: options.name,
    host,
    port,
    pid,
    address: `${host}:${port}`,
    signal: send,
    status,
    ran,
    stderr: () => errText,
    stop,
    [Symbol.asyncDispose]: () => stop(),
  };
}
