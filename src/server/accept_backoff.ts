/**
 * Pacing of a provider's accept loop when `accept()` keeps failing (most often because the
 * process ran out of file descriptors: `EMFILE`/`ENFILE`), so that the loop neither spins at
 * 100% CPU nor writes a log line per failure.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";

/** First pause after a failed `accept()`, in ms; it doubles with each failure in a row. */
export const ACCEPT_BACKOFF_MIN_MS = 5;
/** Longest pause between two `accept()` attempts while they fail, in ms. */
export const ACCEPT_BACKOFF_MAX_MS = 1000;

/**
 * Exponential backoff for an accept loop: {@linkcode AcceptBackoff.failed} pauses 5 ms, then
 * 10, 20, ... up to 1 s while failures continue; one WARN line starts an episode and one INFO
 * line ends it when `accept()` succeeds again.
 *
 * @example
 * ```ts ignore
 * const backoff = new AcceptBackoff(logger);
 * for (;;) {
 *   try { conn = await listener.accept(); } catch (e) { await backoff.failed(e); continue; }
 *   backoff.succeeded();
 * }
 * ```
 */
export class AcceptBackoff {
  #logger: Logger;
  #delayMs = 0;
  #failures = 0;
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;

  /** Logs its episodes to `logger`. */
  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Whether `accept()` is failing (an episode is open). */
  get backingOff(): boolean {
    return this.#delayMs > 0;
  }

  /** Records a failed `accept()` and waits before the next attempt (or until `wake()`). */
  failed(error: unknown): Promise<void> {
    this.#failures++;
    if (this.#delayMs === 0) {
      this.#delayMs = ACCEPT_BACKOFF_MIN_MS;
      this.#since = Date.now();
      this.#logger.warn("accept failed; retrying with backoff until it succeeds", {
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        maxDelayMs: ACCEPT_BACKOFF_MAX_MS,
      });
    } else {
      this.#delayMs = Math.min(this.#delayMs * 2, ACCEPT_BACKOFF_MAX_MS);
    }
    return new Promise<void>((resolve) => {
      this.#wake = () => {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      };
      this.#timer = setTimeout(this.#wake, this.#delayMs);
    });
  }

  /** Records a successful `accept()`, ending an episode (with one log line) if one was open. */
  succeeded(): void {
    if (this.#delayMs === 0) return;
    this.#logger.info("accepting connections again", {
      failures: this.#failures,
      ms: Date.now() - this.#since,
    });
    this.#delayMs = 0;
    this.#failures = 0;
  }

  /** Ends a pause now (the provider is closing). */
  wake(): void {
    this.#wake?.();
  }
}
