/**
 * Worker of the fuzzer's decoder stage (`decoders.ts`): decodes generated inputs in a
 * tight loop and publishes, in shared memory, which input it is on and how many it finished,
 * so the main thread can tell a decoder that never returns and stop this Worker.
 */
/// <reference lib="deno.worker" />
import { parseProto } from "../../schema/load_proto.ts";
import { describeService } from "../../schema/method_descriptor.ts";
import { FrameDecoder, FrameError } from "../../wire/frame.ts";
import {
  decodeLegacyHeader,
  LegacyError,
  LegacyRequestDecoder,
} from "../../legacy/legacy_codec.ts";
import { decodeMeta, MetaError, type RpcMeta } from "../../wire/meta.ts";
import { DECODER_KINDS, type DecoderCase, decoderCase } from "./inputs.ts";

/** Slot of the shared progress array: the input being decoded. */
export const PROGRESS_CURRENT = 0;
/** Inputs finished. */
export const PROGRESS_DONE = 1;
/** 1 once the Worker has started its loop. */
export const PROGRESS_STARTED = 2;
/** Inputs started per kind, from this slot on, in the order of `DECODER_KINDS`. */
export const PROGRESS_BY_KIND = 3;
/** Slots of the shared progress array. */
export const PROGRESS_SLOTS = PROGRESS_BY_KIND + DECODER_KINDS.length;

/** What the main thread sends. */
export interface DecodeJob {
  seed: number;
  from: number;
  /** Last input + 1. */
  to: number;
  /** `Date.now()` after which no new input is started. */
  endAt: number;
  progress: SharedArrayBuffer;
}

/** What this Worker posts. */
export type DecodeMessage =
  | { type: "fail"; index: number; kind: string; what: string }
  | { type: "done"; cases: number };

const PAYLOAD_PROTO = parseProto(
  `syntax = "proto3"; package mprpc.fuzz.payload;
   message Inner { string label = 1; repeated int32 values = 2; }
   message Blob {
     string text = 1; bytes data = 2; uint32 n = 3; Inner inner = 4; map<string, int64> counts = 5;
     repeated Inner items = 6; sint64 s = 7; fixed64 f = 8; double d = 9;
   }
   service Payload { rpc Call(Blob) returns (Blob); }`,
  "fuzz_payload.proto",
);
const payloadCodec = describeService(PAYLOAD_PROTO.lookupService("mprpc.fuzz.payload.Payload"))[0]!
  .request;

/** Why a decoded meta is not acceptable, or undefined. */
function badMeta(m: RpcMeta): string | undefined {
  for (const k of ["kind", "callId", "timeoutMs", "status"] as const) {
    const v = m[k];
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return `${k} ${v} is not a uint32`;
  }
  return undefined;
}

function chunks(c: DecoderCase): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of c.cuts) {
    out.push(c.bytes.subarray(at, cut));
    at = cut;
  }
  out.push(c.bytes.subarray(at));
  return out;
}

/** Runs one input; returns what was wrong, or undefined. */
function check(c: DecoderCase): string | undefined {
  try {
    switch (c.kind) {
      case "meta_hostile":
      case "meta_mutated":
      case "meta_random":
        return badMeta(decodeMeta(c.bytes));
      case "frame_stream": {
        let bad: string | undefined;
        const d = new FrameDecoder(64 * 1024, (meta) => {
          bad ??= badMeta(meta);
          if (meta.callId === 0 && meta.kind <= 2) bad ??= `call id 0 on kind ${meta.kind}`;
        });
        for (const chunk of chunks(c)) d.push(chunk);
        return bad;
      }
      case "legacy_header": {
        const h = decodeLegacyHeader(c.bytes);
        return h.argsSize > 0xffffffff ? `args_size ${h.argsSize}` : undefined;
      }
      case "legacy_stream": {
        const d = new LegacyRequestDecoder({ maxMessageBytes: 64 * 1024 });
        for (const chunk of chunks(c)) d.push(chunk);
        return undefined;
      }
      case "payload":
        payloadCodec.decode(c.bytes, true);
        return undefined;
    }
  } catch (e) {
    const expected = c.kind === "payload"
      ? e instanceof Error
      : c.kind === "frame_stream"
      ? e instanceof FrameError
      : c.kind.startsWith("legacy")
      ? e instanceof LegacyError
      : e instanceof MetaError || e instanceof TypeError; // TypeError: invalid UTF-8
    return expected ? undefined : `threw ${e instanceof Error ? `${e.name}: ${e.message}` : e}`;
  }
}

self.onmessage = (e: MessageEvent<DecodeJob>) => {
  const { seed, from, to, endAt, progress } = e.data;
  const p = new Int32Array(progress);
  let i = from;
  Atomics.store(p, PROGRESS_STARTED, 1);
  for (; i < to && ((i - from) % 256 !== 0 || Date.now() < endAt); i++) {
    Atomics.store(p, PROGRESS_CURRENT, i);
    const c = decoderCase(seed, i);
    Atomics.add(p, PROGRESS_BY_KIND + DECODER_KINDS.indexOf(c.kind), 1);
    const what = check(c);
    if (what !== undefined) {
      self.postMessage({ type: "fail", index: i, kind: c.kind, what } satisfies DecodeMessage);
    }
    Atomics.add(p, PROGRESS_DONE, 1);
  }
  self.postMessage({ type: "done", cases: i - from } satisfies DecodeMessage);
};
