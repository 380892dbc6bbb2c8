/**
 * A provider that runs out of file descriptors backs off in its accept loop (a few log lines,
 * not one per failure) and serves again once descriptors free up.
 */
import assert from "node:assert/strict";
import { Kind } from "../../src/wire/meta.ts";
import { Code } from "../../src/errors.ts";
import { FrameSocket } from "../_helpers/raw_tcp.ts";
import {
  DEFAULT_MAX_CONNECTIONS,
  defaultMaxConnections,
} from "../../src/server/_max_connections.ts";

const CHILD = new URL("../_helpers/fd_starved_provider.ts", import.meta.url).pathname;

/** Reads stdout of `child` line by line. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let i;
    while ((i = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, i);
      rest = rest.slice(i + 1);
    }
  }
}

Deno.test("out of file descriptors, the accept loop backs off with one log line and recovers when they free up", async () => {
  const child = new Deno.Command("prlimit", {
    args: ["--nofile=256:256", Deno.execPath(), "run", "-A", "--unstable-net", CHILD],
    stdout: "piped",
    stderr: "inherit",
    stdin: "piped",
  }).spawn();
  const out = lines(child.stdout);
  const sockets: FrameSocket[] = [];
  try {
    const { port } = JSON.parse((await out.next()).value);
    const { exhausted } = JSON.parse((await out.next()).value);
    assert.ok(exhausted > 0);
    // The kernel completes these connections; the provider cannot accept them yet.
    for (let i = 0; i < 3; i++) {
      const s = await FrameSocket.connect(port);
      sockets.push(s);
      await s.send({ kind: Kind.PING, callId: i + 1 });
    }
    for (const [i, s] of sockets.entries()) {
      const pong = await s.next(10_000);
      assert.deepEqual([pong?.meta.kind, pong?.meta.callId], [Kind.PONG, i + 1]);
    }
    await child.stdin.close();
    const report = JSON.parse((await out.next()).value);
    assert.equal(report.connections, 3);
    assert.ok(report.acceptLines >= 1 && report.acceptLines <= 2, JSON.stringify(report));
    assert.equal(report.recoveredLines, report.acceptLines, JSON.stringify(report));
  } finally {
    for (const s of sockets) s.close();
    await child.stdin.close().catch(() => {}); // already closed when the test got that far
    for await (const _ of out) {
      // drain until the child exits
    }
    await child.status;
  }
});

Deno.test("by default a provider under a low open-file limit refuses connections beyond that limit minus a reserve", async () => {
  const child = new Deno.Command("prlimit", {
    args: [
      "--nofile=200:200",
      Deno.execPath(),
      "run",
      "-A",
      "--unstable-net",
      CHILD,
      "--default-max-connections",
    ],
    stdout: "piped",
    stderr: "null",
    stdin: "piped",
  }).spawn();
  const out = lines(child.stdout);
  const sockets: FrameSocket[] = [];
  try {
    const { port } = JSON.parse((await out.next()).value);
    let served = 0;
    let refused = 0;
    for (let i = 0; i < 150; i++) {
      const s = await FrameSocket.connect(port);
      sockets.push(s);
      await s.send({ kind: Kind.PING, callId: 1 });
      const f = await s.next(5000);
      if (f?.meta.kind === Kind.PONG) served++;
      else if (f?.meta.kind === Kind.GOAWAY && f.meta.status === Code.RESOURCE_EXHAUSTED) refused++;
    }
    assert.deepEqual({ served, refused }, { served: 200 - 64, refused: 150 - (200 - 64) });
  } finally {
    for (const s of sockets) s.close();
    await child.stdin.close();
    for await (const _ of out) {
      // drain until the child exits
    }
    await child.status;
  }
});

Deno.test("maxConnections defaults to DEFAULT_MAX_CONNECTIONS, lowered below the open-file limit", () => {
  const byLimit = defaultMaxConnections();
  assert.ok(byLimit >= 1 && byLimit <= DEFAULT_MAX_CONNECTIONS);
  const limits = Deno.readTextFileSync("/proc/self/limits");
  const soft = Number(
    limits.split("\n").find((l) => l.startsWith("Max open files"))!.split(/\s+/)[3],
  );
  if (Number.isInteger(soft)) assert.ok(byLimit < soft, `${byLimit} >= open-file limit ${soft}`);
  assert.ok(
    defaultMaxConnections(4) <= Math.ceil(byLimit / 4) || byLimit === DEFAULT_MAX_CONNECTIONS,
  );
});
