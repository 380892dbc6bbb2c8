/**
 * The module is publishable: `deno publish --dry-run` (which type-checks the exports, looks for
 * slow types and unanalyzable dynamic imports, and lists the files) reports no warning or
 * error, and publishes neither tests, benchmarks nor CI scripts.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("deno publish --dry-run passes with no warnings and leaves tests/bench/.ci out", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, out);
  assert.doesNotMatch(out, /^\s*(warning|error)\b/im, out);
  assert.match(out, /Success Dry run complete/);
  const files = [...out.matchAll(/file:\/\/\S+/g)].map((m) => m[0]);
  assert.ok(files.some((f) => f.endsWith("/mod.ts")), out);
  assert.ok(files.some((f) => f.endsWith("/LICENSE")), out);
  for (const dir of ["/tests/", "/bench/", "/.ci/"]) {
    assert.equal(files.filter((f) => f.includes(dir)).length, 0, `${dir} published:\n${out}`);
  }
});
