/**
 * examples/chat/chat.ts, run as its own process: two members chat over bidirectional streams
 * through a chat room provider, each hearing everything in order, and leave.
 */
import assert from "node:assert/strict";

Deno.test("the chat example: each member hears every message in order, then both leave", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=examples",
      new URL("../../examples/chat/chat.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = stdout.trimEnd().split("\n");
  const of = (name: string) => lines.filter((l) => l.startsWith(`[${name}] `));
  assert.deepEqual(of("alice"), [
    "[alice] room: alice joined",
    "[alice] room: bob joined",
    "[alice] alice: hi bob",
    "[alice] bob: hi alice, bye",
    "[alice] room: bob left",
  ]);
  assert.deepEqual(of("bob"), [
    "[bob] room: bob joined",
    "[bob] alice: hi bob",
    "[bob] bob: hi alice, bye",
  ]);
  assert.equal(lines.at(-1), "chat: done");
});

Deno.test("the chat example refuses unknown arguments with its usage and exit code 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read=examples",
      new URL("../../examples/chat/chat.ts", import.meta.url).pathname,
      "--bogus",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(new TextDecoder().decode(out.stderr), /usage: chat\.ts/);
});
