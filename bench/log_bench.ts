/**
 * AsyncLogger benchmarks, for `deno bench -A bench/log_bench.ts`:
 * - the caller-side cost of `info()` on a logger that writes files (each iteration opens a
 *   logger, times a burst of 1,000 calls, then flushes and closes it untimed);
 * - lines/s to disk: 200,000 lines logged then flushed, printed with console.log, both as one
 *   synchronous burst and paced (a macrotask yield every 5,000 lines, so the Worker writes while
 *   the caller logs).
 *
 * @module
 */

import { AsyncLogger } from "../src/log/async_logger.ts";
import { ConsoleLogger } from "../src/log/logger.ts";

const root = await Deno.makeTempDir({ prefix: "mprpc_log_bench_" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));

const BURST = 1000;
const quiet = new ConsoleLogger("CRITICAL"); // baseline: a level check and nothing else
let runs = 0;

/** A bench whose every iteration owns a fresh logger: timed burst of `BURST` calls, then close. */
function callerBench(name: string, call: (log: AsyncLogger, i: number) => void, baseline = false) {
  Deno.bench({
    name,
    group: "caller",
    baseline,
    n: 40,
    warmup: 5,
    async fn(b) {
      await using log = new AsyncLogger({ dir: `${root}/caller-${runs++}`, level: "INFO" });
      b.start();
      for (let i = 0; i < BURST; i++) call(log, i);
      b.end();
      await log.flush();
    },
  });
}

callerBench(`AsyncLogger.info() with 3 fields, ${BURST} calls (caller side)`, (log, i) => {
  log.info("call done", { method: "Echo", id: i, ms: 0.42 });
}, true);
callerBench(`AsyncLogger.info() no fields, ${BURST} calls (caller side)`, (log) => {
  log.info("call done");
});
callerBench(`AsyncLogger.debug() filtered out, ${BURST} calls`, (log, i) => {
  log.debug("not written", { id: i });
});

Deno.bench({
  name: `ConsoleLogger.info() filtered out, ${BURST} calls`,
  group: "caller",
  fn() {
    for (let i = 0; i < BURST; i++) quiet.info("not written", { id: i });
  },
});

/** Logs `lines` lines (yielding to the event loop every `paceEvery`), flushes, prints lines/s. */
async function throughput(label: string, lines: number, paceEvery: number): Promise<void> {
  const dir = `${root}/${label}`;
  await using log = new AsyncLogger({ dir, maxQueue: lines + 1 });
  log.info("warm-up"); // Worker start-up is not part of the measurement
  await log.flush();
  const t0 = performance.now();
  for (let i = 0; i < lines; i++) {
    log.info("request served", { service: "UserService", method: "Login", seq: i });
    if (i % paceEvery === paceEvery - 1) await new Promise((r) => setTimeout(r, 0));
  }
  const t1 = performance.now();
  await log.flush();
  const t2 = performance.now();
  let bytes = 0;
  for (const e of Deno.readDirSync(dir)) bytes += Deno.statSync(`${dir}/${e.name}`).size;
  const secs = (t2 - t0) / 1000;
  console.log(
    `${label}: ${lines} lines (${(bytes / 1e6).toFixed(1)} MB) on disk in ${
      (t2 - t0).toFixed(0)
    } ms` +
      ` = ${Math.round(lines / secs).toLocaleString("en-US")} lines/s,` +
      ` ${(bytes / 1e6 / secs).toFixed(0)} MB/s; caller busy ${(t1 - t0).toFixed(0)} ms` +
      ` (${((t1 - t0) * 1e6 / lines).toFixed(0)} ns/line); dropped ${log.dropped}`,
  );
}

// Measured once, before the benches run (printed above the table).
await throughput("burst", 200_000, Number.MAX_SAFE_INTEGER);
await throughput("paced", 200_000, 5_000);
