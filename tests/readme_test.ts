/** The README's code is true: its quickstart type-checks under the project's own options. */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("the README quickstart type-checks with noUncheckedIndexedAccess", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const section = readme.slice(readme.indexOf("## 30-second quickstart"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(code, "no ts block after the quickstart heading");
  assert.match(code, /from "\.\/mod\.ts"/);
  const dir = await Deno.makeTempDir({ prefix: "mprpc_readme_" });
  try {
    const file = `${dir}/quickstart.ts`;
    await Deno.writeTextFile(
      file,
      code.replace('from "./mod.ts"', `from ${JSON.stringify(new URL("mod.ts", ROOT).href)}`),
    );
    const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
    assert.equal(config.compilerOptions.noUncheckedIndexedAccess, true);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", new URL("deno.json", ROOT).pathname, file],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
