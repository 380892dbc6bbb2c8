/**
 * The fuzzer's network cases: hostile frames a caller should never send to a provider, and
 * hostile answers a provider should never send to a caller, each generated from
 * `(seed, case number)`.
 *
 * @module
 */
import {
  frameBytes,
  hostileMeta,
  hostileUint32,
  lenField,
  mutateBytes,
  overflowingEntryMeta,
  type Rng,
  varint,
} from "./inputs.ts";
import type { FuzzOptions } from "./options.ts";

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
export function metaBytes(m: MetaSpec): Uint8Array {
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

export function frame(meta: Uint8Array, payload: Uint8Array = new Uint8Array()): Uint8Array {
  return concat(header(meta.length + payload.length, meta.length), meta, payload);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export const PROBE_SERVICE = "mprpc.fuzz.Probe";
export const MARKER_ID = 0x7abcde01;
/** How long the liveness probe after each provider-side case waits for its answers. */
export const PROBE_TIMEOUT_MS = 3000;
export const PING = 3;
export const PONG = 4;
export const RESPONSE = 1;

// ---- cases ------------------------------------------------------------------------------

/** What a provider must do with a case's bytes. */
type Expect = "close" | "either" | "answer";

export interface ServerCase {
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

export type CallerBehaviour =
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

export interface CallerCase {
  side: "caller";
  kind: `caller_${CallerBehaviour}`;
  behaviour: CallerBehaviour;
  rng: Rng;
}

export type Case = ServerCase | CallerCase;

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

export function serverCase(
  r: Rng,
  o: Required<Pick<FuzzOptions, "maxMessageBytes">> & FuzzOptions,
) {
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
        // 6..8 are the stream kinds (dropped when they name no open stream).
        frame(metaBytes({ kind: r.pick([9, 10, 100, 255, 65535, 0xffffffff]), callId: 1 })),
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

export function callerCase(r: Rng): CallerCase {
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

export function callerAnswer(b: CallerBehaviour, r: Rng, id: number, status: number): Uint8Array {
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
      return frame(metaBytes({ kind: r.int(9, 1000), callId: id })); // 6..8: stream kinds
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
