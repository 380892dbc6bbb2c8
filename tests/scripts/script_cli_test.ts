/**
 * The scripts' command-line contract: a usage error is one line on stderr naming the problem
 * and pointing to --help, exit 2; scripts/zookeeper.ts refuses a port that is already taken.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

async function run(args: string[]): Promise<{ code: number; stderr: string[] }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(r.stderr).split("\n").filter((l) => l !== "");
  return { code: r.code, stderr };
}

Deno.test("scripts refuse an unknown flag in one line with exit 2", async () => {
  for (
    const [script, name] of [["zookeeper.ts", "zookeeper"], ["fuzz.ts", "fuzz"], [
      "demo.ts",
      "demo",
    ]]
  ) {
    const r = await run([`scripts/${script}`, "--prot", "2182"]);
    assert.equal(r.code, 2, `${script}: ${r.stderr.join("\n")}`);
    assert.deepEqual(r.stderr, [`${name}: unknown flag "--prot" (see --help)`]);
  }
});

Deno.test("scripts/zookeeper.ts refuses a bad --port value with exit 2", async () => {
  const r = await run(["scripts/zookeeper.ts", "--port", "http"]);
  assert.equal(r.code, 2);
  assert.deepEqual(r.stderr, [
    'zookeeper: --port: "http" is not an integer in 1..65535 (see --help)',
  ]);
});

Deno.test("scripts/zookeeper.ts names a port that is already taken and does not start", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = taken.addr.port;
  const r = await run(["scripts/zookeeper.ts", "--port", String(port)]);
  assert.equal(r.code, 1);
  assert.deepEqual(r.stderr, [
    `zookeeper: port ${port} is already in use (another ZooKeeper?); choose --port`,
  ]);
});
