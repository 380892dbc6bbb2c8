/**
 * A headless Chromium driven over the DevTools protocol (a WebSocket), for tests that check
 * what a page renders: `evaluate` runs an expression in the page, `screenshot` captures it.
 */

/** The Chromium binary: `$CHROMIUM`, else `/usr/bin/chromium`; undefined when neither exists. */
export function chromiumPath(): string | undefined {
  const candidates = [Deno.env.get("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  for (const p of candidates) {
    if (p === undefined) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // not there: try the next
    }
  }
  return undefined;
}

/** A Chromium process showing one page. */
export class HeadlessChromium {
  #proc: Deno.ChildProcess;
  #stderr: Promise<void>;
  #profile: string;
  #ws: WebSocket;
  #nextId = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #closed: Promise<void>;

  private constructor(
    proc: Deno.ChildProcess,
    stderr: Promise<void>,
    profile: string,
    ws: WebSocket,
  ) {
    this.#proc = proc;
    this.#stderr = stderr;
    this.#profile = profile;
    this.#ws = ws;
    this.#closed = new Promise((r) => ws.addEventListener("close", () => r(), { once: true }));
    ws.addEventListener("message", (e) => {
      const msg = JSON.parse(e.data as string);
      const waiter = this.#pending.get(msg.id);
      if (waiter === undefined) return;
      this.#pending.delete(msg.id);
      if (msg.error) waiter.reject(new Error(`DevTools: ${JSON.stringify(msg.error)}`));
      else waiter.resolve(msg.result);
    });
  }

  /** Starts Chromium (headless, no sandbox, 1280×900) on `url`, within `timeoutMs`. */
  static async launch(binary: string, url: string, timeoutMs = 30_000): Promise<HeadlessChromium> {
    const profile = await Deno.makeTempDir({ prefix: "mprpc_chromium_" });
    const proc = new Deno.Command(binary, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        `--user-data-dir=${profile}`,
        "--window-size=1280,900",
        url,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Reads stderr to its end (so Chromium never blocks on it) and finds the DevTools port.
    let found!: (port: number) => void;
    const port = new Promise<number>((r) => found = r);
    const stderr = (async () => {
      let text = "";
      for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(text);
        if (m) found(Number(m[1]));
        if (text.length > 100_000) text = text.slice(-10_000);
      }
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const p = await Promise.race([
        port,
        proc.status.then((s) => {
          throw new Error(`chromium exited with ${s.code} before DevTools listened`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("chromium did not start in time")), timeoutMs);
        }),
      ]);
      const ws = await pageSocket(p, url, timeoutMs);
      return new HeadlessChromium(proc, stderr, profile, ws);
    } catch (e) {
      proc.kill("SIGKILL");
      await proc.status;
      await stderr;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a DevTools command to the page. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The value of `expression` evaluated in the page (awaited when it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    }) as { result: { value: T }; exceptionDetails?: unknown };
    if (r.exceptionDetails) throw new Error(`page threw: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value;
  }

  /** A PNG of the page as rendered now. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", { format: "png" }) as { data: string };
    return Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
  }

  /** Closes the connection and the browser, and deletes its profile. */
  async close(): Promise<void> {
    this.#ws.close();
    await this.#closed;
    for (const w of this.#pending.values()) w.reject(new Error("browser closed"));
    this.#pending.clear();
    this.#proc.kill("SIGTERM");
    await this.#proc.status;
    await this.#stderr;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The DevTools WebSocket of the page showing `url`, open. */
async function pageSocket(port: number, url: string, timeoutMs: number): Promise<WebSocket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`http://127.0.0.1:${port}/json/list`);
    const targets = await res.json() as {
      type: string;
      url: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((t) => t.type === "page" && t.url.startsWith(url));
    if (page) {
      const ws = new WebSocket(page.webSocketDebuggerUrl);
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve(), { once: true });
        ws.addEventListener("error", () => reject(new Error("cannot open the DevTools socket")), {
          once: true,
        });
      });
      return ws;
    }
    if (Date.now() > deadline) throw new Error(`no page for ${url} in ${JSON.stringify(targets)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
