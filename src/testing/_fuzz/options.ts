/**
 * Options and report of the protocol fuzzer.
 *
 * @module
 */
import type { LogFields } from "../../log/logger.ts";
import type { DecoderFuzzReport } from "./decoders.ts";

/** One log call, as a capturing logger records it. */
export interface FuzzLogLine {
  level: string;
  msg: string;
  fields: LogFields;
}

/** Options of {@linkcode runFuzz}. */
export interface FuzzOptions {
  /** Seed of the case generator. */
  seed: number;
  /** How many cases to run (default: as many as fit in `durationMs`). */
  cases?: number | undefined;
  /** How long to run, ms, when `cases` is not given; default 5000. */
  durationMs?: number | undefined;
  /** The provider under test, `"host:port"` or `{ host, port }`. */
  connect: string | { host: string; port: number };
  /** The target's `maxMessageBytes`; default 4 MiB. */
  maxMessageBytes?: number;
  /** The target's `readTimeoutMs`; stalled-frame cases run only when it is at most 2000. */
  readTimeoutMs?: number | undefined;
  /** A call that stays in flight for a while (for duplicate-call-id cases); none: skipped. */
  slowCall?: { service: string; method: string; payload: Uint8Array } | undefined;
  /** The target's log so far, to check each bad connection cost one line (in-process only). */
  logLines?: (() => readonly FuzzLogLine[]) | undefined;
  /** Cases run at once; default 4. */
  concurrency?: number | undefined;
  /** Also fuzz a caller (RpcChannel) with a fake provider; default true. */
  callerCases?: boolean | undefined;
  /** Largest RSS growth allowed over the run, bytes; default 160 MiB. */
  maxRssGrowthBytes?: number | undefined;
  /** Largest growth of this isolate's V8 heap over the run, bytes; default 128 MiB. */
  maxHeapGrowthBytes?: number | undefined;
  /**
   * Inputs of the decoder stage, run first (hostile bytes straight into the decoders, in a
   * Worker under a watchdog: see `decoders.ts`); default 0. When it finds a decoder that
   * hangs, the network cases are skipped: they would hang the in-process provider.
   */
  decoderCases?: number | undefined;
  /** Time one decoder input may take before it counts as a hang, ms; default 2000. */
  decoderBudgetMs?: number | undefined;
}

/** What {@linkcode runFuzz} found. */
export interface FuzzReport {
  seed: number;
  /** The decoder stage's report, when it ran. */
  decoder: DecoderFuzzReport | undefined;
  /** Cases run. */
  cases: number;
  /** Cases per kind. */
  byKind: Record<string, number>;
  /** Provider-side outcomes: `closed` or `answered`; caller side: the status names. */
  outcomes: Record<string, number>;
  /** Liveness probes that succeeded (one after every provider-side case). */
  probes: number;
  /** Problems found, each naming the case (and seed) that shows it. Empty: all good. */
  failures: string[];
  rssStartBytes: number;
  rssEndBytes: number;
  rssGrowthBytes: number;
  /** Growth of this isolate's `heapUsed` (garbage included: no GC is forced). */
  heapGrowthBytes: number;
  durationMs: number;
}
