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
import { parseArgs } from "node:util";
import { RpcChannel } from "../src/client/rpc_channel.ts";
import { Code, codeName, RpcError } from "../src/errors.ts";
import type { LogFields, Logger } from "../src/log/logger.ts";
import { parseProto } from "../src/schema/load_proto.ts";
import { RpcProvider } from "../src/server/rpc_provider.ts";
import { FrameDecoder } from "../src/wire/frame.ts";
import { encodeMeta, Kind, type RpcMeta } from "../src/wire/meta.ts";
import {
  frameBytes,
  hostileMeta,
  hostileUint32,
  lenField,
  mutateBytes,
  overflowingEntryMeta,
  Rng,
  varint,
} from "./_fuzz_inputs.ts";
import { type DecoderFuzzReport, runDecoderFuzz } from "./fuzz_decoders.ts";

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
  cases?: number;
  /** How long to run, ms, when `cases` is not given; default 5000. */
  durationMs?: number;
  /** The provider under test, `"host:port"` or `{ host, port }`. */
  connect: string | { host: string; port: number };
  /** The target's `maxMessageBytes`; default 4 MiB. */
  maxMessageBytes?: number;
  /** The target's `readTimeoutMs`; stalled-frame cases run only when it is at most 2000. */
  readTimeoutMs?: number;
  /** A call that stays in flight for a while (for duplicate-call-id cases); none: skipped. */
  slowCall?: { service: string; method: string; payload: Uint8Array };
  /** The target's log so far, to check each bad connection cost one line (in-process only). */
  logLines?: () => readonly FuzzLogLine[];
  /** Cases run at once; default 4. */
  concurrency?: number;
  /** Also fuzz a caller (RpcChannel) with a fake provider; default true. */
  callerCases?: boolean;
  /** Largest RSS growth allowed over the run, bytes; default 160 MiB. */
  maxRssGrowthBytes?: number;
  /** Largest growth of this isolate's V8 heap over the run, bytes; default 128 MiB. */
  maxHeapGrowthBytes?: number;
  /**
   * Inputs of the decoder stage, run first (hostile bytes straight into the decoders, in a
   * Worker under a watchdog: see `fuzz_decoders.ts`); default 0. When it finds a decoder that
   * hangs, the network cases are skipped: they would hang the in-process provider.
   */
  decoderCases?: number;
  /** Time one decoder input may take before it counts as a hang, ms; default 2000. */
  decoderBudgetMs?: number;
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

// ---- byte builders ---------------------------------------------------------------------

const enc = new TextEncoder();

interface MetaSpec {
  kind?: number;
  callId?: number;
  service?: string;
  method?: string;
  timeoutMs?: number;
  status?: number;
  errorMessage?: string;
  metadata?: Record<string, string>;
}

/** Encodes an RpcMeta with full varints (any kind or status number). */
function metaBytes(m: MetaSpec): Uint8Array {
  const out: number[] = [];
  if (m.kind) out.push(0x08, ...varint(m.kind));
  if (m.callId) out.push(0x10, ...varint(m.callId));
  if (m.service) out.push(...lenField(3, enc.encode(m.service)));
  if (m.method) out.push(...lenField(4, enc.encode(m.method)));
  if (m.timeoutMs) out.push(0x28, ...varint(m.timeoutMs));
  if (m.status) out.push(0x30, ...varint(m.status));
  if (m.errorMessage) out.push(...lenField(7, enc.encode(m.errorMessage)));
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    out.push(...lenField(8, [...lenField(1, enc.encode(k)), ...lenField(2, enc.encode(v))]));
  }
  return new Uint8Array(out);
}

function header(bodyLen: number, metaLen: number): Uint8Array {
  const h = new Uint8Array(12);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0x4d525043);
  v.setUint32(4, bodyLen >>> 0);
  v.setUint32(8, metaLen >>> 0);
  return h;
}

function frame(meta: Uint8Array, payload: Uint8Array = new Uint8Array()): Uint8Array {
  return concat(header(meta.length + payload.length, meta.length), meta, payload);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const PROBE_SERVICE = "mprpc.fuzz.Probe";
const MARKER_ID = 0x7abcde01;
/** How long the liveness probe after each provider-side case waits for its answers. */
const PROBE_TIMEOUT_MS = 3000;
const PING = 3;
const PONG = 4;
const RESPONSE = 1;

// ---- cases ------------------------------------------------------------------------------

/** What a provider must do with a case's bytes. */
type Expect = "close" | "either" | "answer";

interface ServerCase {
  side: "provider";
  kind: string;
  chunks: Uint8Array[];
  /** Pause between chunks, ms. */
  gapMs: number;
  /** After sending: stall (wait for the read timeout) or half-close. */
  then: "wait" | "eof";
  expect: Expect;
  /** Exactly one line when it closes (protocol error or timeout); otherwise at most one. */
  oneLine: boolean;
}

type CallerBehaviour =
  | "request"
  | "garbage"
  | "huge"
  | "oversize"
  | "unknown_kind"
  | "cancel"
  | "bad_meta"
  | "truncated_close"
  | "close"
  | "bad_payload"
  | "wrong_id"
  | "status"
  | "goaway_status"
  | "stall"
  | "overflowing_entry"
  | "bad_call_id";

interface CallerCase {
  side: "caller";
  kind: `caller_${CallerBehaviour}`;
  behaviour: CallerBehaviour;
  rng: Rng;
}

type Case = ServerCase | CallerCase;

function invalidMeta(r: Rng): Uint8Array {
  switch (r.int(0, 6)) {
    case 0: // truncated varint
      return new Uint8Array([0x08, 0x80 | r.int(0, 127)]);
    case 1: // invalid wire types 3, 4, 6, 7
      return new Uint8Array([(r.int(1, 15) << 3) | r.pick([3, 4, 6, 7]), r.int(0, 255)]);
    case 2: // length-delimited field overrunning the meta
      return new Uint8Array([0x1a, r.int(3, 127), 0x61]);
    case 3: // an eleven-byte varint
      return new Uint8Array([0x10, ...new Array(11).fill(0xff), 0x01]);
    case 4: // a metadata entry whose inner field is not length-delimited
      return new Uint8Array([0x42, 2, 0x08, 0x01]);
    case 5: // invalid UTF-8 in the service name
      return new Uint8Array([0x1a, 3, 0xff, 0xfe, 0xc3]);
    default: // fixed64 field cut short
      return new Uint8Array([(r.int(9, 15) << 3) | 1, 1, 2, 3]);
  }
}

const mutate = mutateBytes;

function validRequest(r: Rng, callId = r.int(1, 1000)): Uint8Array {
  return frame(
    metaBytes({
      kind: 0,
      callId,
      service: PROBE_SERVICE,
      method: "Check",
      timeoutMs: 1000,
      metadata: { k: "v" },
    }),
    r.bytes(r.int(0, 32)),
  );
}

function serverCase(r: Rng, o: Required<Pick<FuzzOptions, "maxMessageBytes">> & FuzzOptions) {
  const stall = (o.readTimeoutMs ?? 30_000) <= 2000;
  const table: Array<readonly [string, number]> = [
    ["random_bytes", 10],
    ["huge_length", 8],
    ["over_max", 8],
    ["meta_over_body", 5],
    ["bad_meta", 10],
    ["unknown_kind", 8],
    ["response_to_provider", 6],
    ["goaway_to_provider", 3],
    ["duplicate_call_id", o.slowCall ? 5 : 0],
    ["mutated_meta", 12],
    ["random_meta", 8],
    ["truncated_stall", stall ? 3 : 0],
    ["truncated_eof", 6],
    ["valid_bytewise", 3],
    ["valid_then_garbage", 5],
    ["hostile_meta", 10],
    ["overflowing_entry", 6],
    ["bad_call_id", 4],
  ];
  const kind = r.weighted(table);
  const c = (
    chunks: Uint8Array[],
    expect: Expect,
    oneLine = expect === "close",
    then: "wait" | "eof" = "wait",
    gapMs = 0,
  ): ServerCase => ({ side: "provider", kind, chunks, gapMs, then, expect, oneLine });
  switch (kind) {
    case "random_bytes": {
      const b = r.bytes(r.int(1, 4096));
      if (b[0] === 0x4d) b[0] = 0x4e; // never the magic's first byte
      return c([b], "close");
    }
    case "huge_length": {
      const body = r.pick([0xffffffff, 0xfffffff0 + r.int(0, 14), 0x80000000, 0x7fffffff]);
      return c([concat(header(body, r.int(0, 64)), r.bytes(r.int(0, 256)))], "close");
    }
    case "over_max": {
      const body = Math.min(0xffffffff, o.maxMessageBytes + 1 + r.int(0, 1 << 20));
      return c([concat(header(body, r.int(0, 16)), r.bytes(r.int(0, 8192)))], "close");
    }
    case "meta_over_body": {
      const body = r.int(0, 1024);
      return c([concat(header(body, body + r.int(1, 1 << 20)), r.bytes(body))], "close");
    }
    case "bad_meta":
      return c([frame(invalidMeta(r), r.bytes(r.int(0, 16)))], "close");
    case "unknown_kind":
      return c([
        frame(metaBytes({ kind: r.pick([6, 7, 100, 255, 65535, 0xffffffff]), callId: 1 })),
      ], "close");
    case "response_to_provider":
      return c([
        frame(metaBytes({ kind: RESPONSE, callId: r.int(1, 1 << 30) }), r.bytes(r.int(0, 64))),
      ], "close");
    case "goaway_to_provider":
      return c([frame(metaBytes({ kind: 5, status: r.int(0, 16) }))], "close");
    case "duplicate_call_id": {
      const s = o.slowCall!;
      const id = r.int(1, 1 << 20);
      const req = frame(
        metaBytes({ kind: 0, callId: id, service: s.service, method: s.method }),
        s.payload,
      );
      return c([concat(req, req)], "close");
    }
    case "mutated_meta": {
      const meta = mutate(
        r,
        metaBytes({
          kind: 0,
          callId: r.int(1, 1000),
          service: PROBE_SERVICE,
          method: "Check",
          timeoutMs: r.int(1, 5000),
          metadata: { authorization: "Bearer x" },
        }),
      );
      return c([frame(meta, r.bytes(r.int(0, 32)))], "either");
    }
    case "random_meta":
      return c([frame(r.bytes(r.int(0, 64)), r.bytes(r.int(0, 32)))], "either");
    case "truncated_stall": {
      const f = validRequest(r);
      return c([f.subarray(0, r.int(1, f.length - 1))], "close");
    }
    case "truncated_eof": {
      const f = validRequest(r);
      // A peer hanging up mid-frame is closed without a warning (nothing to tell anyone).
      return c([f.subarray(0, r.int(1, f.length - 1))], "close", false, "eof");
    }
    case "valid_bytewise": {
      const f = frame(metaBytes({ kind: PING, callId: r.int(1, 1000) }));
      // One write per byte (TCP_NODELAY), no pauses: all within the read timeout.
      return c([...f].map((b) => new Uint8Array([b])), "answer", false, "wait", 0);
    }
    case "hostile_meta": // mutated metadata maps, overlong varints, lying lengths
      return c([frameBytes(r, hostileMeta(r), r.bytes(r.int(0, 16)))], "either");
    case "overflowing_entry":
      return c([frame(overflowingEntryMeta(r, r.int(1, 1000)))], "close");
    case "bad_call_id":
      return c([
        frame(
          new Uint8Array([0x10, ...hostileUint32(r), ...lenField(3, enc.encode(PROBE_SERVICE))]),
        ),
      ], "close");
    default: { // valid_then_garbage
      const pings: Uint8Array[] = [];
      for (let i = r.int(1, 5); i > 0; i--) pings.push(frame(metaBytes({ kind: PING, callId: i })));
      return c([concat(...pings, new Uint8Array([0x00, 0x01, 0x02, 0x03]), r.bytes(16))], "close");
    }
  }
}

function callerCase(r: Rng): CallerCase {
  const behaviour = r.weighted<CallerBehaviour>([
    ["request", 4],
    ["garbage", 3],
    ["huge", 3],
    ["oversize", 2],
    ["unknown_kind", 2],
    ["cancel", 2],
    ["bad_meta", 3],
    ["truncated_close", 2],
    ["close", 2],
    ["bad_payload", 3],
    ["wrong_id", 1],
    ["status", 2],
    ["goaway_status", 2],
    ["stall", 1],
    ["overflowing_entry", 3],
    ["bad_call_id", 2],
  ]);
  return { side: "caller", kind: `caller_${behaviour}`, behaviour, rng: r };
}

// ---- socket helpers ---------------------------------------------------------------------

interface ReadResult {
  /** The peer closed (EOF or reset). */
  closed: boolean;
  frames: RpcMeta[];
  /** The bytes were not valid frames. */
  garbage: string | undefined;
}

/**
 * Reads frames until the peer closes, `until` returns true, or `ms` pass (then the socket is
 * closed by us and `closed` is false).
 */
async function readFrames(
  conn: Deno.Conn,
  ms: number,
  until: (frames: RpcMeta[]) => boolean = () => false,
): Promise<ReadResult> {
  const frames: RpcMeta[] = [];
  let garbage: string | undefined;
  const dec = new FrameDecoder(1 << 30, (meta) => frames.push(meta));
  const buf = new Uint8Array(64 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeout = new Promise<"timeout">((r) =>
    timer = setTimeout(() => {
      timedOut = true;
      r("timeout");
    }, ms)
  );
  try {
    for (;;) {
      const read = conn.read(buf).catch(() => null);
      const n = await Promise.race([read, timeout]);
      if (n === "timeout") {
        closeQuietly(conn);
        await read;
        return { closed: false, frames, garbage };
      }
      if (n === null) return { closed: !timedOut, frames, garbage };
      if (garbage === undefined) {
        try {
          dec.push(buf.subarray(0, n));
        } catch (e) {
          garbage = (e as Error).message;
        }
      }
      if (until(frames)) return { closed: false, frames, garbage };
    }
  } finally {
    clearTimeout(timer);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    return true;
  } catch {
    return false; // the peer closed first: that is an answer too
  }
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- running ----------------------------------------------------------------------------

const PROBE_PROTO = parseProto(
  `syntax = "proto3"; package mprpc.fuzz;
   message Blob { string text = 1; bytes data = 2; }
   service Probe { rpc Check(Blob) returns (Blob); }`,
  "fuzz_probe.proto",
);

/** A logger that keeps the lines of one caller-side case. */
class CountingLogger implements Logger {
  lines: FuzzLogLine[] = [];
  debug(): void {}
  info(): void {}
  warn(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "warn", msg, fields });
  }
  error(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "error", msg, fields });
  }
  critical(msg: string, fields: LogFields = {}): void {
    this.lines.push({ level: "critical", msg, fields });
  }
}

/**
 * Runs the fuzzer against a provider and reports what it found. It does not throw on a finding:
 * look at `failures`.
 *
 * @example Fuzzing an in-process provider for two seconds
 * ```ts ignore
 * import { runFuzz } from "./scripts/fuzz.ts";
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

/** Expected results of each caller-side behaviour: status names, or "OK". */
const CALLER_EXPECT: Record<CallerBehaviour, { codes: string[]; protocolError: boolean }> = {
  request: { codes: ["INTERNAL"], protocolError: true },
  garbage: { codes: ["INTERNAL"], protocolError: true },
  huge: { codes: ["INTERNAL"], protocolError: true },
  oversize: { codes: ["RESOURCE_EXHAUSTED"], protocolError: false },
  unknown_kind: { codes: ["INTERNAL"], protocolError: true },
  cancel: { codes: ["INTERNAL"], protocolError: true },
  bad_meta: { codes: ["INTERNAL"], protocolError: true },
  truncated_close: { codes: ["UNAVAILABLE"], protocolError: false },
  close: { codes: ["UNAVAILABLE"], protocolError: false },
  bad_payload: { codes: ["OK", "INTERNAL"], protocolError: false },
  wrong_id: { codes: ["DEADLINE_EXCEEDED"], protocolError: false },
  status: { codes: ["*status"], protocolError: false },
  goaway_status: { codes: ["*status"], protocolError: false },
  stall: { codes: ["DEADLINE_EXCEEDED"], protocolError: false },
  overflowing_entry: { codes: ["INTERNAL"], protocolError: true },
  bad_call_id: { codes: ["INTERNAL"], protocolError: true },
};

async function runCallerCase(
  i: number,
  c: CallerCase,
  report: FuzzReport,
  fail: (i: number, c: Case, what: string) => void,
  count: (rec: Record<string, number>, key: string) => void,
): Promise<void> {
  const r = c.rng;
  const status = r.int(1, 40);
  let sawEof = false;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serve = (async () => {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch {
      return;
    }
    try {
      // Answer the connection handshake (a PING) first, then wait for the request.
      let first = await readFrames(conn, 2000, (fs) => fs.length > 0);
      if (first.frames[0]?.kind === Kind.PING) {
        await writeAll(
          conn,
          frame(encodeMeta({ kind: Kind.PONG, callId: first.frames[0].callId })),
        );
        first = first.frames.length > 1
          ? { ...first, frames: first.frames.slice(1) }
          : await readFrames(conn, 2000, (fs) => fs.length > 0);
      }
      const id = first.frames[0]?.callId ?? 1;
      const bytes = callerAnswer(c.behaviour, r, id, status);
      if (bytes.length > 0) await writeAll(conn, bytes);
      if (c.behaviour === "close" || c.behaviour === "truncated_close") return;
      // The caller must hang up on us (protocol error) or after its deadline.
      const rest = await readFrames(conn, 3000);
      sawEof = rest.closed;
    } finally {
      closeQuietly(conn);
    }
  })();
  const logger = new CountingLogger();
  const channel = new RpcChannel({
    address: { host: "127.0.0.1", port: listener.addr.port },
    timeoutMs: 400,
    keepaliveMs: 0,
    logger,
  });
  const started = Date.now();
  let result = "OK";
  try {
    const stub = channel.stub(PROBE_PROTO.lookupService("mprpc.fuzz.Probe"));
    await stub.Check!({ text: `case ${i}` });
  } catch (e) {
    result = e instanceof RpcError ? codeName(e.code) : `not an RpcError: ${e}`;
    if (e instanceof RpcError && (c.behaviour === "status" || c.behaviour === "goaway_status")) {
      if (e.code === status) result = "*status";
    }
  } finally {
    const elapsed = Date.now() - started;
    if (elapsed > 400 + 1000) fail(i, c, `the call took ${elapsed} ms with a 400 ms deadline`);
    await channel.close();
    await serve;
    closeQuietly(listener);
  }
  count(report.outcomes, result === "*status" ? "ERROR_STATUS" : result);
  const expected = CALLER_EXPECT[c.behaviour];
  if (!expected.codes.includes(result)) {
    fail(i, c, `the call ended with ${result}; expected ${expected.codes.join(" or ")}`);
  }
  const protocolLines = logger.lines.filter((l) => l.msg === "closing connection: protocol error");
  if (expected.protocolError) {
    if (protocolLines.length !== 1) {
      fail(i, c, `expected one protocol-error log line, got ${protocolLines.length}`);
    }
    if (!sawEof) fail(i, c, "the caller did not close the connection after a protocol error");
  }
}

function callerAnswer(b: CallerBehaviour, r: Rng, id: number, status: number): Uint8Array {
  switch (b) {
    case "request":
      return frame(metaBytes({ kind: 0, callId: id, service: "x.Y", method: "Z" }), r.bytes(8));
    case "garbage": {
      // At least a header's worth: fewer bytes are just an unfinished frame (deadline).
      const g = r.bytes(r.int(12, 512));
      if (g[0] === 0x4d) g[0] = 0;
      return g;
    }
    case "huge": {
      // A meta alone over the limit: nothing of the frame can be read, the stream is rejected.
      const body = r.pick([0xffffffff, 0x80000000, 0xfffffff0]);
      return header(body, r.pick([0x7fffffff, body]));
    }
    case "oversize": {
      // A response over the caller's limit: its meta is read, its payload skipped, the call fails.
      const meta = metaBytes({ kind: RESPONSE, callId: id });
      return concat(header(r.pick([0xffffffff, 0x80000000, 0xfffffff0]), meta.length), meta);
    }
    case "unknown_kind":
      return frame(metaBytes({ kind: r.int(6, 1000), callId: id }));
    case "cancel":
      return frame(metaBytes({ kind: 2, callId: id }));
    case "bad_meta":
      return frame(invalidMeta(r));
    case "truncated_close": {
      const f = frame(metaBytes({ kind: RESPONSE, callId: id }), r.bytes(16));
      return f.subarray(0, r.int(1, f.length - 1));
    }
    case "close":
      return new Uint8Array();
    case "bad_payload":
      return frame(metaBytes({ kind: RESPONSE, callId: id }), r.bytes(r.int(1, 64)));
    case "wrong_id":
      return frame(metaBytes({ kind: RESPONSE, callId: id + 1000 }), new Uint8Array());
    case "status":
      return frame(metaBytes({ kind: RESPONSE, callId: id, status, errorMessage: "fuzz" }));
    case "goaway_status":
      return frame(metaBytes({ kind: 5, status, errorMessage: "fuzz go away" }));
    case "stall": {
      const f = frame(metaBytes({ kind: RESPONSE, callId: id }), r.bytes(16));
      return f.subarray(0, r.int(1, f.length - 1));
    }
    case "overflowing_entry":
      return frame(new Uint8Array([0x08, RESPONSE, ...overflowingEntryMeta(r, id)]));
    case "bad_call_id":
      return frame(new Uint8Array([0x08, RESPONSE, 0x10, ...hostileUint32(r)]));
  }
}

function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

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
    const message = e instanceof Error ? e.message.split("\n")[0]! : String(e);
    const unknown = /^Unknown option '([^']*)'/.exec(message);
    throw new UsageError(unknown ? `unknown flag "${unknown[1]}"` : message);
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
    maxMessageBytes,
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
