/** ConsoleLogger: whatever a caller logs, the call returns and the line is printed. */
import assert from "node:assert/strict";
import { ConsoleLogger } from "../../src/log/logger.ts";
import { type PostedLogLine, PostingLogger } from "../../src/log/_posted_logger.ts";

/** Runs `fn` with console.error captured. */
function captureStderr(fn: () => void): string[] {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  try {
    fn();
  } finally {
    console.error = original;
  }
  return lines;
}

Deno.test("ConsoleLogger: a bigint, a self-referencing value or an Error never makes a log call throw", () => {
  const log = new ConsoleLogger("DEBUG");
  const cyclic: Record<string, unknown> = { id: 1 };
  cyclic.self = cyclic;
  const err = new Error("request failed", { cause: new TypeError("socket closed") });
  const lines = captureStderr(() => {
    log.info("id", { id: 12345678901234567890n });
    log.warn("cyclic", { value: cyclic, list: [cyclic] });
    log.error("failed", { err });
    log.critical(Symbol("not a string") as unknown as string, { fn: () => 1 });
  });
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, / INFO id id=12345678901234567890$/);
  assert.match(lines[1]!, / WARN cyclic value=\{"id":1,"self":"\[Circular\]"\} list=/);
  assert.match(lines[2]!, / ERROR failed err=\{"name":"Error","message":"request failed",/);
  assert.match(lines[2]!, /"cause":\{"name":"TypeError","message":"socket closed"/);
  assert.match(lines[2]!, /"stack":"Error: request failed\\n/);
  assert.match(lines[3]!, / CRITICAL Symbol\(not a string\) fn="\[Function: fn\]"$/);
});

Deno.test("ConsoleLogger: a log call returns even when stderr throws", () => {
  const original = console.error;
  console.error = () => {
    throw new Deno.errors.BrokenPipe("stderr closed");
  };
  try {
    new ConsoleLogger("INFO").warn("still returns", { n: 1 });
  } finally {
    console.error = original;
  }
});

Deno.test("a value passed where the fields object goes is written, not lost or spread (every logger)", async () => {
  // JavaScript callers write `log.info("id", 12345678901234567890n)` or `log.error("failed", err)`.
  // deno-lint-ignore no-explicit-any
  const log = new ConsoleLogger("DEBUG") as any;
  const lines = captureStderr(() => {
    log.info("id", 12345678901234567890n);
    log.info("text", "hello");
    log.error("failed", new Error("boom", { cause: "socket closed" }));
    log.info("list", [1, 2]);
  });
  assert.match(lines[0]!, / INFO id value=12345678901234567890$/);
  assert.match(lines[1]!, / INFO text value=hello$/);
  assert.match(
    lines[2]!,
    / ERROR failed error=\{"name":"Error","message":"boom","cause":"socket closed"/,
  );
  assert.match(lines[3]!, / INFO list value=\[1,2\]$/);
  // Across a thread boundary (provider Workers) the value survives too.
  const posted: PostedLogLine[] = [];
  // deno-lint-ignore no-explicit-any
  const worker = new PostingLogger((line) => posted.push(structuredClone(line))) as any;
  worker.info("id", 12345678901234567890n);
  worker.error("failed", new Error("boom"));
  assert.equal(posted[0]!.fields!["value"], 12345678901234567890n);
  assert.match(JSON.stringify(posted[1]!.fields!["error"]), /boom/);
  await Promise.resolve();
});
