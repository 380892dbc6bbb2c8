/** Logging from a Worker: what crosses postMessage is always cloneable, and no line is lost. */
import assert from "node:assert/strict";
import { formatFields, type LogFields } from "../../src/log/logger.ts";
import {
  deliverPostedLog,
  isPostedLog,
  type PostedLogLine,
  PostingLogger,
} from "../../src/log/_posted_logger.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";

Deno.test("a Worker-side log call with non-cloneable fields crosses postMessage and renders as on the main thread", async () => {
  const { port1, port2 } = new MessageChannel();
  const main = new CaptureLogger();
  const got = Promise.withResolvers<void>();
  let seen = 0;
  port2.onmessage = (e) => {
    if (isPostedLog(e.data)) deliverPostedLog(main, e.data);
    if (++seen === 2) got.resolve();
  };
  try {
    const log = new PostingLogger((line) => port1.postMessage(line));
    const cyclic: Record<string, unknown> = { id: 1 };
    cyclic.self = cyclic;
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const fields: LogFields = {
      fn: () => 1,
      sym: Symbol("s"),
      big: 12345678901234567890n,
      cyclic,
      err: new Error("boom", { cause: new Error("inner") }),
      proxy,
      nested: { handler: () => 2, when: new Date(0) },
    };
    assert.throws(() => structuredClone(fields), /could not be cloned/);
    log.error("handler failed", fields);
    log.info("plain", { n: 1 });
    await got.promise;
    assert.equal(main.lines.length, 2);
    assert.equal(main.lines[0]!.level, "error");
    assert.equal(main.lines[0]!.msg, "handler failed");
    assert.equal(formatFields(main.lines[0]!.fields), formatFields(fields));
    assert.deepEqual(main.lines[1], { level: "info", msg: "plain", fields: { n: 1 } });
  } finally {
    port1.close();
    port2.close();
  }
});

Deno.test("a PostingLogger whose post fails sends the line as text, or prints it, and never throws", () => {
  const posted: PostedLogLine[] = [];
  let failures = 1;
  const log = new PostingLogger((line) => {
    if (failures-- > 0) throw new DOMException("gone", "DataCloneError");
    posted.push(line);
  });
  log.warn("fallback", { id: 2n, s: "a b" });
  assert.deepEqual(posted, [{ type: "log", level: "warn", msg: 'fallback id=2 s="a b"' }]);

  const printed: string[] = [];
  const original = console.error;
  console.error = (...a: unknown[]) => void printed.push(a.join(" "));
  try {
    new PostingLogger(() => {
      throw new Error("port closed");
    }).critical("last resort", { n: 1 });
  } finally {
    console.error = original;
  }
  assert.deepEqual(printed, ["CRITICAL last resort n=1"]);
});
