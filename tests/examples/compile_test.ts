/**
 * `deno compile` of a provider example, with the `--include` flags the README gives, makes one
 * binary that serves calls. `deno compile` downloads its runtime (denort) once; where that
 * download fails (no route to dl.deno.land) the test is skipped and says so.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
/** How long the compile may take, download included, before it counts as unavailable. */
const COMPILE_TIMEOUT_MS = 120_000;

const dir = await Deno.makeTempDir({ prefix: "mprpc_compile_" });
const binary = `${dir}/user-provider${Deno.build.os === "windows" ? ".exe" : ""}`;

/** Compiles the user provider; returns why it could not, or undefined on success. */
async function compile(): Promise<string | undefined> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--unstable-net",
      "--include",
      "examples/user/user.proto",
      "--include",
      "examples/user/user_service.ts",
      "--include",
      "src/server/_provider_worker.ts",
      "--include",
      "src/log/_log_writer_worker.ts",
      "-o",
      binary,
      "examples/user/provider.ts",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(COMPILE_TIMEOUT_MS),
  }).output().catch((e) => ({ code: -1, stdout: new Uint8Array(), stderr: String(e) }));
  const err = typeof r.stderr === "string" ? r.stderr : new TextDecoder().decode(r.stderr);
  if (r.code === 0) return undefined;
  if (/dl\.deno\.land|denort|error sending request|dns error|timed out|abort/i.test(err)) {
    const why = /(error sending request|dns error|timed out|abort)[^\n]*/i.exec(err)?.[0];
    return `deno compile cannot fetch its runtime here: ${why ?? err.slice(0, 200)}`;
  }
  assert.fail(`deno compile failed:\n${err}`);
}

const unavailable = await compile();
if (unavailable !== undefined) {
  console.error(`compile_test: skipped: ${unavailable}`);
  await Deno.remove(dir, { recursive: true });
}

Deno.test({
  name: "a compiled provider example (deno compile with --include) serves calls",
  ignore: unavailable !== undefined,
  fn: async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String(l.addr.port);
    l.close();
    const provider = new Deno.Command(binary, {
      args: ["--port", port, "--workers", "2"],
      cwd: dir, // not the repository: everything must come from the binary
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = provider.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let out = "";
      while (!out.includes("listening on")) {
        const { value, done } = await reader.read();
        if (done) assert.fail(`compiled provider exited: ${out}`);
        out += value;
      }
      const caller = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net=127.0.0.1",
          "--allow-read=examples",
          "examples/user/caller.ts",
          "--port",
          port,
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(caller.code, 0, new TextDecoder().decode(caller.stderr));
    } finally {
      provider.kill("SIGTERM");
      for (;;) if ((await reader.read()).done) break;
      await provider.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
