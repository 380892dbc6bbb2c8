/**
 * The examples' command-line contract, run as the README runs them (its smallest permission
 * sets): usage errors are one line and exit 2, runtime errors are one line and exit 1 (a stack
 * only with --verbose or MPRPC_DEBUG=1), a taken port is named, --workers serves.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const STATIC = ["--allow-net=127.0.0.1", "--allow-read=examples"];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  script: string,
  args: string[],
  perms = STATIC,
  env: Record<string, string> = {},
): Promise<Run> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** stderr without the logger's timestamped lines. */
function messages(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l !== "" && !/^\d{4}-\d\d-\d\dT/.test(l));
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("an example given an unknown flag prints one line naming it and exits 2", async () => {
  for (const script of ["examples/user/provider.ts", "examples/friend/caller.ts"]) {
    const r = await run(script, ["--prot", "2182"]);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(messages(r.stderr), [
      `${script.includes("provider") ? "provider" : "caller"}: unknown flag "--prot" (see --help)`,
    ]);
  }
});

Deno.test("a caller refuses --workers, which it does not honour, and its --help omits it", async () => {
  const r = await run("examples/user/caller.ts", ["--workers", "4"]);
  assert.equal(r.code, 2);
  assert.deepEqual(messages(r.stderr), [
    'caller: flag "--workers" is not used by this program (see --help)',
  ]);
  const help = await run("examples/user/caller.ts", ["--help"]);
  assert.equal(help.code, 0);
  assert.doesNotMatch(help.stdout, /--workers|--legacy/);
  assert.match(help.stdout, /--timeout-ms/);
});

Deno.test("a bad value is a usage error pointing to --help", async () => {
  const r = await run("examples/friend/provider.ts", ["--port", "http"]);
  assert.equal(r.code, 2);
  assert.deepEqual(messages(r.stderr), [
    'provider: --port: rpcserverport: "http" is not a port (1..65535) (see --help)',
  ]);
});

Deno.test("a provider whose port is taken names the port and exits 1 without a stack", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const r = await run("examples/user/provider.ts", ["--port", String(port)]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(messages(r.stderr), [
    `provider: cannot listen on 127.0.0.1:${port}: port ${port} is already in use`,
  ]);
});

Deno.test("a runtime error is one line; --verbose and MPRPC_DEBUG=1 add the stack", async () => {
  const port = String(freePort()); // nobody listens there
  const args = ["--port", port, "--timeout-ms", "2000"];
  const plain = await run("examples/friend/caller.ts", args);
  assert.equal(plain.code, 1);
  assert.deepEqual(messages(plain.stderr), [
    `caller: cannot connect to 127.0.0.1:${port}: Connection refused (os error 111)`,
  ]);
  const verbose = await run("examples/friend/caller.ts", [...args, "--verbose"]);
  assert.equal(verbose.code, 1);
  assert.match(verbose.stderr, /\n\s+at /);
  const debug = await run("examples/friend/caller.ts", args, [
    ...STATIC,
    "--allow-env=MPRPC_DEBUG",
  ], { MPRPC_DEBUG: "1" });
  assert.equal(debug.code, 1);
  assert.match(debug.stderr, /\n\s+at /);
});

Deno.test("the user provider example serves with --workers 2", async () => {
  const port = String(freePort());
  const provider = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--unstable-net",
      "--allow-net=127.0.0.1",
      "--allow-read=.",
      "examples/user/provider.ts",
      "--port",
      port,
      "--workers",
      "2",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = provider.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  try {
    while (!out.includes("listening on")) {
      const { value, done } = await reader.read();
      if (done) assert.fail(`provider exited: ${out}`);
      out += value;
    }
    const caller = await run("examples/user/caller.ts", ["--port", port]);
    assert.equal(caller.code, 0, caller.stderr);
    assert.match(caller.stdout, /via callMethod -> success: true/);
  } finally {
    provider.kill("SIGTERM");
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    await provider.stderr.cancel();
    const status = await provider.status;
    assert.equal(status.code, 0);
  }
});
