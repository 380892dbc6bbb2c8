/**
 * Steady call load for reliability tests: `concurrency` loops, each making one small call,
 * pausing `pauseMs`, and again, until {@linkcode CallLoad.stop}. Counts successes and keeps
 * every failure.
 *
 * @module
 */

/** Options of {@linkcode CallLoad}. */
export interface CallLoadOptions {
  /** Concurrent callers. Default 64. */
  concurrency?: number;
  /** Pause after each call, per caller, ms (keeps a shared machine responsive). Default 10. */
  pauseMs?: number;
}

/**
 * Runs `call` in concurrent loops.
 *
 * @example
 * ```ts
 * import { CallLoad } from "./call_load.ts";
 * const load = new CallLoad(() => Promise.resolve(), { concurrency: 4 });
 * await load.until((l) => l.ok >= 10);
 * await load.stop();
 * if (load.failed !== 0) throw new Error("a call failed");
 * ```
 */
export class CallLoad {
  /** Calls that resolved. */
  ok = 0;
  /** Calls that threw, with their errors (the first 20 kept). */
  failed = 0;
  readonly errors: unknown[] = [];
  #stopped = false;
  #loops: Promise<void>[];

  /** Starts the loops at once. */
  constructor(call: (seq: number) => Promise<unknown>, options: CallLoadOptions = {}) {
    const pauseMs = options.pauseMs ?? 10;
    let seq = 0;
    this.#loops = Array.from({ length: options.concurrency ?? 64 }, async () => {
      while (!this.#stopped) {
        try {
          await call(seq++);
          this.ok++;
        } catch (err) {
          this.failed++;
          if (this.errors.length < 20) this.errors.push(err);
        }
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
  }

  /** Resolves once `done(this)` holds (polled every 20 ms); throws after `timeoutMs`. */
  async until(done: (load: CallLoad) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this)) {
      if (Date.now() > deadline) throw new Error(`load condition not met after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops the loops and waits for the calls in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }

  /** A one-line summary for assertion messages. */
  summary(): string {
    return `${this.ok} ok, ${this.failed} failed${
      this.errors.length ? `; first errors: ${this.errors.slice(0, 3).map(String).join(" | ")}` : ""
    }`;
  }
}
