/**
 * Watchdog of `deno task fuzz`: the main thread bumps a shared heartbeat while its event loop
 * runs; when the heartbeat stops for longer than the budget (a decoder or handler of the
 * in-process provider that never returns blocks that loop), this Worker reports the hang and
 * ends the process instead of letting the run wait forever.
 */
/// <reference lib="deno.worker" />

/** What the main thread sends. */
export interface WatchdogJob {
  /** Int32 slot 0: a counter the main thread bumps. */
  heartbeat: SharedArrayBuffer;
  budgetMs: number;
  seed: number;
}

self.onmessage = (e: MessageEvent<WatchdogJob>) => {
  const { heartbeat, budgetMs, seed } = e.data;
  const beat = new Int32Array(heartbeat);
  let last = Atomics.load(beat, 0);
  let since = Date.now();
  setInterval(() => {
    const now = Atomics.load(beat, 0);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since > budgetMs) {
      console.error(
        `FAILURE: the fuzzer's event loop has been blocked for ${Date.now() - since} ms ` +
          `(something in the in-process provider or caller does not return; seed ${seed}): ` +
          `a hang, ending the run`,
      );
      Deno.kill(Deno.pid, "SIGKILL");
    }
  }, 100);
};
