/** ConsoleLogger: whatever a caller logs, the call returns and the line is printed. */
import assert from "node:assert/strict";
import { ConsoleLogger } from "../../src/log/logger.ts";

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
