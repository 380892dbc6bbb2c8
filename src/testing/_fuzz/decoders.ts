/**
 * The fuzzer's decoder stage: hostile inputs (mutated metadata maps, overflowing and overlong
 * varints, lying lengths, out-of-range call ids; see `inputs.ts`) fed straight to the wire
 * decoders (`decodeMeta`, `FrameDecoder`, the C++ protocol's header decoders) and to a
 * protobufjs payload codec, in a Worker under a watchdog: an input that does not finish within
 * its time budget is reported as a hang (the Worker is stopped and the run goes on with the next
 * input), never waited on.
 *
 * @module
 */
import {
  type DecodeJob,
  type DecodeMessage,
  PROGRESS_BY_KIND,
  PROGRESS_CURRENT,
  PROGRESS_DONE,
  PROGRESS_SLOTS,
  PROGRESS_STARTED,
} from "./decode_worker.ts";
import { DECODER_KINDS, decoderCase } from "./inputs.ts";

/** Options of {@linkcode runDecoderFuzz}. */
export interface DecoderFuzzOptions {
  seed: number;
  /** Inputs to run (default: as many as fit in `durationMs`). */
  cases?: number | undefined;
  /** How long to run when `cases` is not given, ms; default 2000. */
  durationMs?: number | undefined;
  /** Time one input may take before it counts as a hang, ms; default 2000. */
  budgetMs?: number | undefined;
  /** Stop after this many hangs; default 5. */
  maxHangs?: number | undefined;
}

/** What {@linkcode runDecoderFuzz} found. */
export interface DecoderFuzzReport {
  cases: number;
  byKind: Record<string, number>;
  /** Inputs that did not finish within the budget. */
  hangs: number;
  /** Problems, each naming the seed and input that replays it. Empty: all good. */
  failures: string[];
  durationMs: number;
}

const POLL_MS = 50;

/**
 * Runs the decoder stage.
 *
 * @example
 * ```ts ignore
 * const report = await runDecoderFuzz({ seed: 1, cases: 100_000 });
 * if (report.failures.length > 0) throw new Error(report.failures.join("\n"));
 * ```
 */
export async function runDecoderFuzz(options: DecoderFuzzOptions): Promise<DecoderFuzzReport> {
  const started = Date.now();
  const budgetMs = options.budgetMs ?? 2000;
  const to = options.cases ?? Number.MAX_SAFE_INTEGER;
  const endAt = options.cases === undefined ? started + (options.durationMs ?? 2000) : Infinity;
  const report: DecoderFuzzReport = {
    cases: 0,
    byKind: {},
    hangs: 0,
    failures: [],
    durationMs: 0,
  };
  const fail = (what: string) => {
    if (report.failures.length < 50) report.failures.push(what);
  };
  let from = 0;
  while (from < to && Date.now() < endAt) {
    const hung = await runWorker({ seed: options.seed, from, to, endAt }, budgetMs, report, fail);
    if (hung === undefined) break;
    // A hang: report it and go on after it in a fresh Worker.
    const c = decoderCase(options.seed, hung);
    report.hangs++;
    report.cases++;
    fail(
      `decoder input #${hung} ${c.kind} (seed ${options.seed}) did not finish within ` +
        `${budgetMs} ms: ${[...c.bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
    );
    from = hung + 1;
    if (report.hangs >= (options.maxHangs ?? 5)) {
      fail(`stopped after ${report.hangs} hangs`);
      break;
    }
  }
  report.durationMs = Date.now() - started;
  return report;
}

/** Runs inputs `from..to-1` in one Worker; returns the input that hung, if one did. */
async function runWorker(
  job: Omit<DecodeJob, "progress">,
  budgetMs: number,
  report: DecoderFuzzReport,
  fail: (what: string) => void,
): Promise<number | undefined> {
  const progress = new SharedArrayBuffer(4 * PROGRESS_SLOTS);
  const p = new Int32Array(progress);
  p[PROGRESS_CURRENT] = job.from;
  const worker = new Worker(new URL("./decode_worker.ts", import.meta.url), {
    type: "module",
  });
  let timer: ReturnType<typeof setInterval> | undefined;
  const countKinds = () => {
    for (const [k, kind] of DECODER_KINDS.entries()) {
      const n = Atomics.load(p, PROGRESS_BY_KIND + k);
      if (n > 0) report.byKind[kind] = (report.byKind[kind] ?? 0) + n;
    }
  };
  try {
    return await new Promise<number | undefined>((resolve, reject) => {
      let lastDone = -1;
      let lastChange = Date.now();
      let started = false;
      timer = setInterval(() => {
        const done = Atomics.load(p, PROGRESS_DONE);
        if (!started && Atomics.load(p, PROGRESS_STARTED) === 1) {
          started = true;
          lastDone = done;
          lastChange = Date.now();
        } else if (done !== lastDone) {
          lastDone = done;
          lastChange = Date.now();
        } else if (started && Date.now() - lastChange > budgetMs) {
          report.cases += done;
          countKinds();
          resolve(Atomics.load(p, PROGRESS_CURRENT));
        } else if (!started && Date.now() - lastChange > budgetMs + 30_000) {
          reject(new Error("the decoder fuzz Worker did not start"));
        }
      }, POLL_MS);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`decoder fuzz Worker failed: ${e.message}`));
      };
      worker.onmessage = (e: MessageEvent<DecodeMessage>) => {
        const m = e.data;
        if (m.type === "fail") {
          fail(`decoder input #${m.index} ${m.kind} (seed ${job.seed}): ${m.what}`);
        } else {
          report.cases += m.cases;
          countKinds();
          resolve(undefined);
        }
      };
      worker.postMessage({ ...job, progress } satisfies DecodeJob);
    });
  } finally {
    clearInterval(timer);
    worker.terminate();
  }
}
