import assert from "node:assert/strict";
import { Code, RpcError } from "../../src/errors.ts";
import { abortReason, callSignal, raceSignal } from "../../src/util/signals.ts";

/** A signal that counts its abort listeners. */
function countingSignal() {
  const ac = new AbortController();
  const signal = ac.signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  const fns = new Set<unknown>();
  signal.addEventListener = ((type: string, fn: EventListener, opts?: unknown) => {
    if (type === "abort" && !fns.has(fn)) {
      fns.add(fn);
      listeners++;
    }
    add(type, fn, opts as AddEventListenerOptions);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, fn: EventListener) => {
    if (type === "abort" && fns.delete(fn)) listeners--;
    remove(type, fn);
  }) as typeof signal.removeEventListener;
  return { ac, signal, listeners: () => listeners };
}

Deno.test("raceSignal leaves no listener on a shared signal after 1,000 waits that settled", async () => {
  const { signal, listeners } = countingSignal();
  for (let i = 0; i < 1000; i++) {
    assert.equal(await raceSignal(Promise.resolve(i), signal), i);
    await raceSignal(Promise.reject(new Error("no")), signal).catch(() => {});
  }
  assert.equal(listeners(), 0);
});

Deno.test("raceSignal rejects at the abort with the mapped reason while the promise goes on", async () => {
  const { ac, signal, listeners } = countingSignal();
  let settle!: (v: string) => void;
  const shared = new Promise<string>((r) => settle = r);
  const waiting = raceSignal(shared, signal, (r) => new RpcError(Code.CANCELLED, String(r)));
  ac.abort("stop");
  await assert.rejects(waiting, (e) => e instanceof RpcError && e.message === "stop");
  assert.equal(listeners(), 0);
  settle("still there for others");
  assert.equal(await shared, "still there for others");
});

Deno.test("raceSignal on an aborted signal rejects at once and swallows the abandoned promise's rejection", async () => {
  const ac = new AbortController();
  ac.abort(new RpcError(Code.DEADLINE_EXCEEDED, "late"));
  const abandoned = Promise.reject(new Error("nobody listens")); // must not be unhandled
  await assert.rejects(
    raceSignal(abandoned, ac.signal),
    (e) => e instanceof RpcError && e.code === Code.DEADLINE_EXCEEDED,
  );
});

Deno.test("callSignal aborts DEADLINE_EXCEEDED at the deadline and CANCELLED on the caller's abort", async () => {
  const timed = callSignal(undefined, Date.now() + 20);
  await new Promise((r) => timed.signal.addEventListener("abort", r, { once: true }));
  assert.equal((timed.signal.reason as RpcError).code, Code.DEADLINE_EXCEEDED);
  timed.cleanup();

  const { ac, signal, listeners } = countingSignal();
  const cancelled = callSignal(signal, Date.now() + 60_000);
  assert.equal(listeners(), 1);
  ac.abort();
  assert.equal((cancelled.signal.reason as RpcError).code, Code.CANCELLED);
  assert.equal(listeners(), 0); // and the 60 s timer is gone (the sanitizer would see it)
  cancelled.cleanup();
});

Deno.test("callSignal cleanup releases the timer and the caller's listener; abort() ends it early", () => {
  const { signal, listeners } = countingSignal();
  const s = callSignal(signal, Date.now() + 60_000);
  s.cleanup();
  s.cleanup(); // idempotent
  assert.equal(listeners(), 0);
  assert.equal(s.signal.aborted, false);

  const closing = callSignal(signal, Date.now() + 60_000);
  closing.abort(new RpcError(Code.CANCELLED, "channel closed"));
  assert.equal((closing.signal.reason as RpcError).message, "channel closed");
  assert.equal(listeners(), 0);
});

Deno.test("abortReason keeps an RpcError reason and turns anything else into CANCELLED", () => {
  const own = new RpcError(Code.UNAVAILABLE, "shutting down");
  assert.equal(abortReason(own), own);
  const e = abortReason(new DOMException("aborted", "AbortError"), "resolve x cancelled");
  assert.equal(e.code, Code.CANCELLED);
  assert.equal(e.message, "resolve x cancelled");
});
