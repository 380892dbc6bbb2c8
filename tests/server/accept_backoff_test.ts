/** The accept loop's backoff: one log line per episode of failures, and a pause `wake()` ends. */
import assert from "node:assert/strict";
import { AcceptBackoff } from "../../src/server/accept_backoff.ts";
import { CaptureLogger } from "../_helpers/capture_logger.ts";

const EMFILE = new Error("Too many open files (os error 24)");

Deno.test("failed accepts in a row log one WARN line, and the first success one INFO line", async () => {
  const logger = new CaptureLogger();
  const backoff = new AcceptBackoff(logger);
  for (let i = 0; i < 4; i++) await backoff.failed(EMFILE);
  assert.equal(backoff.backingOff, true);
  backoff.succeeded();
  backoff.succeeded();
  assert.equal(backoff.backingOff, false);
  await backoff.failed(EMFILE); // a new episode
  backoff.succeeded();
  assert.deepEqual(logger.lines.map((l) => [l.level, l.msg]), [
    ["warn", "accept failed; retrying with backoff until it succeeds"],
    ["info", "accepting connections again"],
    ["warn", "accept failed; retrying with backoff until it succeeds"],
    ["info", "accepting connections again"],
  ]);
  assert.equal(logger.lines[1]!.fields.failures, 4);
  assert.match(String(logger.lines[0]!.fields.error), /Too many open files/);
});

Deno.test("wake() ends a backoff pause at once (the provider is closing)", async () => {
  const backoff = new AcceptBackoff(new CaptureLogger());
  for (let i = 0; i < 3; i++) await backoff.failed(EMFILE);
  let woke = false;
  const pause = backoff.failed(EMFILE).then(() => woke = true);
  backoff.wake();
  await pause;
  assert.equal(woke, true); // and the sanitizers see no timer left behind
});
