/**
 * Worker side of `bounded_decode.ts`: decodes each input it is sent and posts the outcome, so a
 * decoder that never returns blocks this Worker, not the test.
 */
/// <reference lib="deno.worker" />
import { FrameDecoder } from "../../src/wire/frame.ts";
import { decodeLegacyHeader } from "../../src/legacy/legacy_codec.ts";
import { decodeMeta } from "../../src/wire/meta.ts";
import { describeService, type MethodDescriptor } from "../../src/schema/method_descriptor.ts";
import type { DecodeOutcome, DecoderName } from "./bounded_decode.ts";
import { kitchenService } from "./kitchen.ts";

// Loaded on first use: a message that arrives before a top-level await settles would be lost.
let echo: MethodDescriptor | undefined;

function run(decoder: DecoderName, bytes: Uint8Array): unknown {
  switch (decoder) {
    case "meta":
      return decodeMeta(bytes);
    case "legacyHeader":
      return decodeLegacyHeader(bytes);
    case "kitchenEcho":
      return echo!.request.decode(bytes, true);
    case "frames": {
      const frames: unknown[] = [];
      new FrameDecoder(1 << 20, (meta, payload) => frames.push({ meta, payload: [...payload] }))
        .push(bytes);
      return frames;
    }
  }
}

self.onmessage = async (e: MessageEvent<{ decoder: DecoderName; inputs: Uint8Array[] }>) => {
  const { decoder, inputs } = e.data;
  if (decoder === "kitchenEcho") {
    echo ??= describeService(await kitchenService()).find((m) => m.name === "Echo")!;
  }
  for (const [i, bytes] of inputs.entries()) {
    let outcome: DecodeOutcome;
    try {
      outcome = { value: run(decoder, bytes) };
    } catch (err) {
      const { name, message } = err as Error;
      outcome = { error: { name, message, reason: (err as { reason?: string }).reason } };
    }
    self.postMessage({ i, outcome });
  }
};
