/**
 * A loopback TCP proxy that can be cut, for tests of network partitions without privileges:
 * while cut, connections through it stay open but carry nothing (bytes are dropped) and new
 * connections are accepted and held silent, as across a partition; healed, the silent
 * connections are closed and new ones are forwarded again. `onTargetData` lets a test cut it at
 * an exact point of a conversation (e.g. right after a handshake's answer).
 *
 * @module
 */

/** Options of {@linkcode TcpProxy}. */
export interface TcpProxyOptions {
  /**
   * Called after each chunk read from the target was forwarded to its client (a request/answer
   * protocol whose client sends one request at a time reads one answer per chunk).
   */
  onTargetData?: () => void;
}

/**
 * Forwards 127.0.0.1:`port` to `target`.
 *
 * @example
 * ```ts ignore
 * await using proxy = new TcpProxy({ hostname: "127.0.0.1", port: 2181 });
 * proxy.cut();   // the client behind the proxy hears nothing from now on
 * proxy.heal();  // ... and reconnects
 *
 * let answers = 0; // silent from the second answer on
 * const p = new TcpProxy(target, { onTargetData: () => ++answers === 1 && p.cut() });
 * ```
 */
export class TcpProxy implements AsyncDisposable {
  /** The port clients connect to. */
  readonly port: number;
  #listener: Deno.TcpListener;
  #target: { hostname: string; port: number };
  #cut = false;
  #conns = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #closed = false;
  #onTargetData: (() => void) | undefined;

  /** Starts listening on a free loopback port. */
  constructor(target: { hostname: string; port: number }, options: TcpProxyOptions = {}) {
    this.#target = target;
    this.#onTargetData = options.onTargetData;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#track(this.#accept());
  }

  /** Whether the proxy is cut. */
  get isCut(): boolean {
    return this.#cut;
  }

  /** Everything through the proxy goes silent from now on. */
  cut(): void {
    this.#cut = true;
  }

  /** Closes the silent connections; new connections are forwarded again. */
  heal(): void {
    this.#cut = false;
    this.#closeAll();
  }

  /** Stops listening, closes every connection, awaits every pipe. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#listener.close();
      } catch { /* closed */ }
      this.#closeAll();
    }
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return; // listener closed
      }
      this.#conns.add(client);
      this.#track(this.#serve(client));
    }
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    let upstream: Deno.TcpConn | undefined;
    try {
      if (!this.#cut) {
        upstream = await Deno.connect(this.#target);
        this.#conns.add(upstream);
      }
      if (!upstream || this.#closed) {
        await this.#pipe(client, undefined); // held silent until healed or closed
        return;
      }
      await Promise.allSettled([
        this.#pipe(client, upstream),
        this.#pipe(upstream, client, this.#onTargetData),
      ]);
    } catch {
      /* the target refused, or a reset: the client sees its socket closed */
    } finally {
      for (const c of [client, upstream]) {
        if (!c) continue;
        this.#conns.delete(c);
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  }

  /**
   * Copies `from` to `to` while not cut (dropping bytes while cut), calling `forwarded` after
   * each chunk written; ends at EOF or error.
   */
  async #pipe(
    from: Deno.TcpConn,
    to: Deno.TcpConn | undefined,
    forwarded?: () => void,
  ): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      const n = await from.read(buf).catch(() => null);
      if (n === null) break;
      if (this.#cut || !to) continue;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
      forwarded?.();
    }
    // Half-close is not needed by the tests: closing both ends is done by #serve.
    try {
      to?.close();
    } catch { /* closed */ }
  }

  #closeAll(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }

  #track(p: Promise<void>): void {
    const t = p.finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }
}
