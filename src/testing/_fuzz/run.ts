/**
 * The seeded protocol fuzzer's core: runs the decoder stage, then provider-side and caller-side
 * network cases, and reports what it found (see scripts/fuzz.ts for the command line).
 *
 * @module
 */
import { Code } from "../../errors.ts";
import type { RpcMeta } from "../../wire/meta.ts";
import { runDecoderFuzz } from "./decoders.ts";
import {
  callerCase,
  type Case,
  concat,
  frame,
  MARKER_ID,
  metaBytes,
  PING,
  PONG,
  PROBE_SERVICE,
  PROBE_TIMEOUT_MS,
  RESPONSE,
  type ServerCase,
  serverCase,
} from "./cases.ts";
import { runCallerCase } from "./caller_case.ts";
import type { FuzzOptions, FuzzReport } from "./options.ts";
import { Rng } from "./inputs.ts";
import { closeQuietly, readFrames, sleep, writeAll } from "./sockets.ts";

/**
 * Runs the fuzzer against a provider and reports what it found. It does not throw on a finding:
 * look at `failures`.
 *
 * @example Fuzzing an in-process provider for two seconds
 * ```ts ignore
 * import { runFuzz } from "./run.ts";
 * const report = await runFuzz({ seed: 1, durationMs: 2000, connect: provider.address });
 * if (report.failures.length > 0) throw new Error(report.failures.join("\n"));
 * console.log(`${report.cases} cases`);
 * ```
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const target = typeof options.connect === "string"
    ? (() => {
      const i = options.connect.lastIndexOf(":");
      return { host: options.connect.slice(0, i), port: Number(options.connect.slice(i + 1)) };
    })()
    : options.connect;
  const o = { maxMessageBytes: 4 * 1024 * 1024, ...options };
  const report: FuzzReport = {
    seed: o.seed,
    decoder: undefined,
    cases: 0,
    byKind: {},
    outcomes: {},
    probes: 0,
    failures: [],
    rssStartBytes: Deno.memoryUsage().rss,
    rssEndBytes: 0,
    rssGrowthBytes: 0,
    heapGrowthBytes: 0,
    durationMs: 0,
  };
  if ((o.decoderCases ?? 0) > 0) {
    report.decoder = await runDecoderFuzz({
      seed: o.seed,
      cases: o.decoderCases,
      budgetMs: o.decoderBudgetMs,
    });
    report.failures.push(...report.decoder.failures);
    if (report.decoder.hangs > 0) return report;
  }
  const heapStart = Deno.memoryUsage().heapUsed;
  const started = Date.now();
  const endAt = o.cases === undefined ? started + (o.durationMs ?? 5000) : Infinity;
  const maxCases = o.cases ?? Infinity;
  let next = 0;
  const fail = (i: number, c: Case, what: string) => {
    if (report.failures.length < 50) {
      report.failures.push(`case #${i} ${c.kind} (seed ${o.seed}): ${what}`);
    }
  };
  const count = (rec: Record<string, number>, key: string) => rec[key] = (rec[key] ?? 0) + 1;

  const worker = async () => {
    while (next < maxCases && Date.now() < endAt && report.failures.length < 50) {
      const i = next++;
      const r = new Rng(o.seed, i);
      const c: Case = o.callerCases !== false && r.int(0, 3) === 0
        ? callerCase(r)
        : serverCase(r, o);
      count(report.byKind, c.kind);
      if (c.side === "provider") {
        await runServerCase(i, c, target, o, report, fail, count);
        const wrong = await probe(target);
        if (wrong === undefined) report.probes++;
        else fail(i, c, `the provider did not answer a well-formed call afterwards: ${wrong}`);
      } else {
        await runCallerCase(i, c, report, fail, count);
      }
      report.cases++;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  report.durationMs = Date.now() - started;
  report.rssEndBytes = Deno.memoryUsage().rss;
  report.rssGrowthBytes = report.rssEndBytes - report.rssStartBytes;
  report.heapGrowthBytes = Deno.memoryUsage().heapUsed - heapStart;
  const heapBound = o.maxHeapGrowthBytes ?? 128 * 1024 * 1024;
  if (report.heapGrowthBytes > heapBound) {
    report.failures.push(
      `heap grew by ${mib(report.heapGrowthBytes)} over ${report.cases} cases ` +
        `(bound ${mib(heapBound)})`,
    );
  }
  const bound = o.maxRssGrowthBytes ?? 160 * 1024 * 1024;
  if (report.rssGrowthBytes > bound) {
    report.failures.push(
      `RSS grew by ${mib(report.rssGrowthBytes)} over ${report.cases} cases (bound ${mib(bound)})`,
    );
  }
  return report;
}

async function runServerCase(
  i: number,
  c: ServerCase,
  target: { host: string; port: number },
  o: FuzzOptions & { maxMessageBytes: number },
  report: FuzzReport,
  fail: (i: number, c: Case, what: string) => void,
  count: (rec: Record<string, number>, key: string) => void,
): Promise<void> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: target.host, port: target.port });
  } catch (e) {
    fail(i, c, `cannot connect: ${(e as Error).message}`);
    return;
  }
  conn.setNoDelay(true);
  const local = conn.localAddr as Deno.NetAddr;
  const peer = `${local.hostname}:${local.port}`;
  // Local ports get reused over a long run: only this case's lines count.
  const logStart = o.logLines?.().length ?? 0;
  try {
    for (const [n, chunk] of c.chunks.entries()) {
      if (!(await writeAll(conn, chunk))) break;
      if (c.gapMs > 0 && n < c.chunks.length - 1) await sleep(c.gapMs);
    }
    if (c.then === "eof") {
      try {
        await conn.closeWrite();
      } catch { /* already closed by the provider */ }
    } else if (c.expect !== "close") {
      await writeAll(conn, frame(metaBytes({ kind: PING, callId: MARKER_ID })));
    }
    const waitMs = c.kind === "truncated_stall" ? (o.readTimeoutMs ?? 0) + 2000 : 2000;
    const res = await readFrames(
      conn,
      waitMs,
      (fs) => c.expect !== "close" && fs.some((f) => f.kind === PONG && f.callId === MARKER_ID),
    );
    const outcome = res.closed ? "closed" : "answered";
    count(report.outcomes, outcome);
    if (res.garbage !== undefined) fail(i, c, `the provider sent malformed frames: ${res.garbage}`);
    if (c.expect === "close" && !res.closed) {
      fail(i, c, `connection not closed within ${waitMs} ms`);
    }
    if (c.expect === "answer" && res.closed) fail(i, c, "valid frames were refused");
    if (c.expect === "either" && !res.closed) {
      const answered = res.frames.some((f) => f.kind === PONG && f.callId === MARKER_ID);
      if (!answered) fail(i, c, `neither closed nor answered within ${waitMs} ms`);
    }
    if (o.logLines) {
      const mine = o.logLines().slice(logStart).filter((l) =>
        l.level !== "debug" && l.level !== "info" && l.fields.peer === peer
      );
      const closing = mine.filter((l) =>
        l.msg.startsWith("closing connection") || l.msg === "connection error"
      );
      if (closing.length > 1 || (res.closed && c.oneLine && closing.length !== 1)) {
        fail(
          i,
          c,
          `expected ${c.oneLine && res.closed ? "one" : "at most one"} log line for the closed ` +
            `connection, got ${closing.length}: ${JSON.stringify(mine.map((l) => l.msg))}`,
        );
      }
      if (mine.length > 2) {
        fail(i, c, `${mine.length} log lines for one connection: ${JSON.stringify(mine)}`);
      }
    }
  } finally {
    closeQuietly(conn);
  }
}

/**
 * A PING and a REQUEST on a fresh connection: PONG and an UNIMPLEMENTED response expected.
 * Returns what went wrong, or undefined.
 */
async function probe(target: { host: string; port: number }): Promise<string | undefined> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: target.host, port: target.port });
  } catch (e) {
    return `cannot connect: ${(e as Error).message}`;
  }
  try {
    const req = frame(metaBytes({ kind: 0, callId: 2, service: PROBE_SERVICE, method: "Check" }));
    if (!(await writeAll(conn, concat(frame(metaBytes({ kind: PING, callId: 1 })), req)))) {
      return "the connection closed before the probe was written";
    }
    const done = (fs: RpcMeta[]) =>
      fs.some((f) => f.kind === PONG && f.callId === 1) &&
      fs.some((f) => f.kind === RESPONSE && f.callId === 2);
    const res = await readFrames(conn, PROBE_TIMEOUT_MS, done);
    const answer = res.frames.find((f) => f.kind === RESPONSE && f.callId === 2);
    if (done(res.frames) && answer?.status === Code.UNIMPLEMENTED) return undefined;
    const got = JSON.stringify(res.frames.map((f) => [f.kind, f.callId, f.status]));
    return res.closed
      ? `the provider closed the probe connection (frames ${got}, garbage ${res.garbage})`
      : `no answer within ${PROBE_TIMEOUT_MS} ms (frames ${got})`;
  } finally {
    closeQuietly(conn);
  }
}

/** Bytes as MiB with one decimal, for reports. */
export function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
