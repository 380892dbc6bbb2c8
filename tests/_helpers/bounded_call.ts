/**
 * Makes one call through an `RpcChannel` in a Worker under a time bound, so a caller that hangs
 * fails the test instead of hanging the suite.
 */
import assert from "node:assert/strict";

/** How the call ended and the WARN (and worse) lines the channel logged. */
export interface CallOutcome {
  ok: boolean;
  ms: number;
  errorName?: string | undefined;
  code?: number | undefined;
  message?: string | undefined;
  warnings: Array<{ msg: string; fields: Record<string, unknown> }>;
}

/**
 * Calls kitchen `Echo` on 127.0.0.1:`port` (call deadline `timeoutMs`) from a fresh Worker;
 * fails when the Worker has not answered within `boundMs`.
 */
export async function callBounded(
  port: number,
  timeoutMs: number,
  boundMs: number,
): Promise<CallOutcome> {
  const worker = new Worker(new URL("./_call_worker.ts", import.meta.url), { type: "module" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await new Promise<CallOutcome>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new assert.AssertionError({
              message: `the caller did not finish within ${boundMs} ms (hung)`,
            }),
          ),
        boundMs,
      );
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`call worker failed: ${e.message}`));
      };
      worker.onmessage = (e: MessageEvent<CallOutcome>) => resolve(e.data);
      worker.postMessage({ port, timeoutMs });
    });
  } finally {
    clearTimeout(timer);
    worker.terminate();
  }
}
