/**
 * A seeded protocol fuzzer for the native frame protocol.
 *
 * Provider side: each case opens a connection to the target provider and sends something a
 * caller should never send (random bytes, lengths near 2^32, a declared size over
 * `maxMessageBytes`, a meta longer than its body, corrupt or mutated metas, unknown frame kinds,
 * RESPONSE/GOAWAY frames, duplicate call ids, truncated frames that stall or end, valid frames
 * cut into single bytes, metas with mutated metadata maps, overflowing or overlong varints and
 * out-of-range call ids). It then checks that the provider closed that connection (or answered
 * it with well-formed frames where the input could be valid), that it logged at most one line
 * for it (exactly one when it closed it for a protocol error or a timeout), and that it still
 * answers a well-formed call on a fresh connection.
 *
 * Caller side: a fake provider answers an `RpcChannel`'s call with a REQUEST, garbage, a huge
 * length, an unknown kind, a CANCEL, a corrupt meta, a truncated frame, a wrong call id, a bad
 * payload, an error status, a GOAWAY, a metadata entry whose length overflows or a call id out of
 * range. The call must settle, within its deadline, with the expected status, and a connection
 * broken by a protocol error must be closed.
 *
 * Every case is generated from `(seed, case number)`, so a failure names what replays it.
 *
 * ```
 * deno task fuzz [--seed=1] [--duration-ms=60000 | --cases=N] [--connect=host:port]
 *   [--max-message-bytes=N] [--read-timeout-ms=N] [--concurrency=4]
 *   [--decoder-cases=200000] [--decoder-budget-ms=2000] [--hang-ms=10000]
 * ```
 *
 * Decoder stage (first): `--decoder-cases` hostile inputs (mutated metadata maps, overflowing
 * and overlong varints, lying lengths, out-of-range call ids, for both protocols and protobuf
 * payloads) go straight into the decoders in a Worker under a watchdog: an input that does not
 * finish within `--decoder-budget-ms` is reported as a hang, and the network cases are then
 * skipped. During the network cases a second watchdog ends the run with a FAILURE line when the
 * event loop stays blocked for `--hang-ms`.
 *
 * Without `--connect` it fuzzes an in-process provider (readTimeoutMs 1000, 64 KiB messages).
 *
 * @module
 */
import { flagProblem } from "./_cli.ts";
import { parseArgs } from "node:util";
import { RpcProvider } from "../src/server/rpc_provider.ts";
import { varint } from "../src/testing/_fuzz/inputs.ts";
import { CountingLogger } from "../src/testing/_fuzz/counting_logger.ts";
import type { FuzzLogLine, FuzzOptions } from "../src/testing/_fuzz/options.ts";
import { mib, runFuzz } from "../src/testing/_fuzz/run.ts";
import { parseProto } from "../src/schema/load_proto.ts";

// ---- CLI --------------------------------------------------------------------------------

/** A logger keeping warnings for the in-process target's one-line-per-connection check. */
class LineLogger extends CountingLogger {}

const FLAGS = [
  "seed",
  "duration-ms",
  "cases",
  "connect",
  "max-message-bytes",
  "read-timeout-ms",
  "concurrency",
  "decoder-cases",
  "decoder-budget-ms",
  "hang-ms",
] as const;
const USAGE = `usage: deno task fuzz [--seed=N] [--duration-ms=N | --cases=N] ` +
  `[--connect=host:port] [--max-message-bytes=N] [--read-timeout-ms=N] [--concurrency=N] ` +
  `[--decoder-cases=200000] [--decoder-budget-ms=2000] [--hang-ms=10000] [--verbose]`;

/** A usage error: one line naming the problem and pointing to --help. */
class UsageError extends Error {}

/** The flags, parsed by node:util (strict); numbers are checked. */
function parseFlags(argv: readonly string[]): Map<string, string> | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(FLAGS.map((f) => [f, { type: "string" as const }])),
        help: { type: "boolean", short: "h" },
        verbose: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new UsageError(flagProblem(e));
  }
  if (values.help) return "help";
  const args = new Map<string, string>();
  for (const f of FLAGS) {
    const v = values[f];
    if (typeof v !== "string") continue;
    if (f !== "connect" && !/^\d+$/.test(v)) {
      throw new UsageError(`--${f}: "${v}" is not a non-negative integer`);
    }
    args.set(f, v);
  }
  return args;
}

async function main(): Promise<number> {
  const args = parseFlags(Deno.args.filter((a) => a !== "--verbose"));
  if (args === "help") {
    console.log(USAGE);
    return 0;
  }
  const num = (k: string) => args.has(k) ? Number(args.get(k)) : undefined;
  const seed = num("seed") ?? (Date.now() & 0x7fffffff);
  let provider: RpcProvider | undefined;
  let connect = args.get("connect");
  let logLines: (() => readonly FuzzLogLine[]) | undefined;
  let maxMessageBytes = num("max-message-bytes");
  let readTimeoutMs = num("read-timeout-ms");
  let slowCall: FuzzOptions["slowCall"];
  if (connect === undefined) {
    const logger = new LineLogger();
    maxMessageBytes = 64 * 1024;
    // 1 s, not less: on a loaded machine a shorter sweep can close a probe connection whose
    // first bytes are waiting in the socket while the event loop is busy.
    readTimeoutMs = 1000;
    provider = new RpcProvider({ logger, maxMessageBytes, readTimeoutMs });
    const root = parseProto(
      `syntax = "proto3"; package mprpc.fuzz.target;
       message SleepRequest { uint32 ms = 1; }
       message Empty {}
       service Target { rpc Sleep(SleepRequest) returns (Empty); }`,
      "fuzz_target.proto",
    );
    provider.notifyService(root.lookupService("mprpc.fuzz.target.Target"), {
      Sleep: (req: { ms: number }, ctx) =>
        new Promise<object>((resolve) => {
          const t = setTimeout(() => resolve({}), req.ms);
          ctx.signal.addEventListener("abort", () => {
            clearTimeout(t);
            resolve({});
          });
        }),
    });
    await provider.start();
    connect = `${provider.address.host}:${provider.address.port}`;
    logLines = () => logger.lines;
    slowCall = {
      service: "mprpc.fuzz.target.Target",
      method: "Sleep",
      payload: new Uint8Array([0x08, ...varint(1000)]),
    };
  }
  console.log(`fuzzing ${connect} with seed ${seed}`);
  // A blocked event loop (a decode that never returns in the in-process provider) stops the
  // heartbeat; the watchdog Worker then reports it and ends the process.
  const heartbeat = new SharedArrayBuffer(4);
  const beat = setInterval(() => Atomics.add(new Int32Array(heartbeat), 0, 1), 100);
  const watchdog = new Worker(new URL("./_fuzz_watchdog_worker.ts", import.meta.url), {
    type: "module",
  });
  watchdog.postMessage({ heartbeat, budgetMs: num("hang-ms") ?? 10_000, seed });
  const report = await runFuzz({
    decoderCases: num("decoder-cases") ?? 200_000,
    decoderBudgetMs: num("decoder-budget-ms"),
    seed,
    connect,
    cases: num("cases"),
    durationMs: num("duration-ms") ?? 60_000,
    ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }),
    readTimeoutMs,
    slowCall,
    logLines,
    concurrency: num("concurrency"),
  });
  clearInterval(beat);
  watchdog.terminate();
  if (provider) {
    await provider.close({ graceMs: 0 });
  }
  const d = report.decoder;
  if (d !== undefined) {
    console.log(
      `decoder stage: ${d.cases} inputs in ${d.durationMs} ms, ${d.hangs} hangs; ` +
        `kinds: ${JSON.stringify(d.byKind)}`,
    );
  }
  console.log(
    `${report.cases} cases in ${report.durationMs} ms, ${report.probes} probes OK, ` +
      `RSS ${mib(report.rssStartBytes)} -> ${mib(report.rssEndBytes)}, ` +
      `heap +${mib(report.heapGrowthBytes)}`,
  );
  console.log("kinds:", JSON.stringify(report.byKind));
  console.log("outcomes:", JSON.stringify(report.outcomes));
  if (report.failures.length > 0) {
    console.log(`${report.failures.length} failure(s):\n  ${report.failures.join("\n  ")}`);
    return 1;
  }
  console.log("no failures");
  return 0;
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`fuzz: ${e.message} (see --help)`);
      code = 2;
    } else {
      console.error(`fuzz: ${e instanceof Error ? e.message : String(e)}`);
      if (Deno.args.includes("--verbose") || debugWanted()) console.error(e);
      code = 1;
    }
  }
  Deno.exit(code);
}

/** MPRPC_DEBUG=1, read without prompting. */
function debugWanted(): boolean {
  const variable = "MPRPC_DEBUG";
  return Deno.permissions.querySync({ name: "env", variable }).state === "granted" &&
    Deno.env.get(variable) === "1";
}
