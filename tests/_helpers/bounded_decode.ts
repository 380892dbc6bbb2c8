/**
 * Runs a wire decoder on hostile inputs in a Worker under a time bound, so a decoder that loops
 * forever fails the test instead of hanging the suite.
 */
import assert from "node:assert/strict";

/**
 * Which decoder to run: `decodeMeta`, `decodeLegacyHeader`, a `FrameDecoder` (1 MiB limit), or
 * the protobufjs codec of kitchen `Echo`'s request (`kitchen.Everything`).
 */
export type DecoderName = "meta" | "legacyHeader" | "frames" | "kitchenEcho";

/** What a decode returned, or the error it threw (name, message, and `reason` if any). */
export type DecodeOutcome =
  | { value: unknown; error?: undefined }
  | { value?: undefined; error: { name: string; message: string; reason: string | undefined } };

/**
 * Decodes every input with `decoder` in a fresh Worker; fails (and stops the Worker) when all of
 * them have not finished within `timeoutMs`, naming the input that did not return.
 */
export async function decodeBounded(
  decoder: DecoderName,
  inputs: Uint8Array[],
  timeoutMs = 20_000,
): Promise<DecodeOutcome[]> {
  const worker = new Worker(new URL("./_decode_worker.ts", import.meta.url), { type: "module" });
  const outcomes: DecodeOutcome[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        reject(
          new assert.AssertionError({
            message: `${decoder} input #${outcomes.length} ` +
              `[${[...inputs[outcomes.length]!].map((b) => b.toString(16)).join(" ")}] ` +
              `did not finish within ${timeoutMs} ms`,
          }),
        );
      }, timeoutMs);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`decode worker failed: ${e.message}`));
      };
      worker.onmessage = (e: MessageEvent<{ i: number; outcome: DecodeOutcome }>) => {
        outcomes[e.data.i] = e.data.outcome;
        if (outcomes.length === inputs.length) resolve();
      };
      if (inputs.length === 0) resolve();
      worker.postMessage({ decoder, inputs });
    });
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
  return outcomes;
}
