/**
 * scripts/gen.ts: its command-line contract (exit 2 on bad usage, exit 1 naming file:line of a
 * `.proto` error), the quality of what it writes (deno fmt, deno lint and deno check clean with
 * strict settings; runs with no read permission), and the checked-in generated modules being
 * what it writes today.
 */
import assert from "node:assert/strict";
import { checkJobs } from "../../scripts/gen_checked_in.ts";

const ROOT = new URL("../../", import.meta.url);
const MOD = new URL("mod.ts", ROOT).href;
const td = new TextDecoder();

async function deno(
  args: string[],
  cwd: string | URL = ROOT,
): Promise<{ code: number; stdout: string; stderr: string[] }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = td.decode(r.stderr).split("\n").filter((l) =>
    l !== "" &&
    !/^\W*(Check|Download|Warning|Ignored|Lifecycle|Enable|"nodeModulesDir"|npm:)/.test(
      l.replace(/^[│╭╰─\s]+/, ""),
    )
  );
  return { code: r.code, stdout: td.decode(r.stdout), stderr };
}

function gen(args: string[]) {
  return deno(["run", "--allow-read", "--allow-write", "scripts/gen.ts", ...args]);
}

Deno.test("gen refuses bad usage in one line with exit 2", async () => {
  const cases: Array<[string[], string]> = [
    [["a.proto"], "gen: --out DIR is required (see --help)"],
    [["--out", "/tmp/x"], "gen: no .proto file given (see --help)"],
    [["--out", "/tmp/x", "a.txt"], 'gen: "a.txt" is not a .proto file (see --help)'],
    [["--outt", "/tmp/x", "a.proto"], 'gen: unknown flag "--outt" (see --help)'],
  ];
  for (const [args, line] of cases) {
    const r = await gen(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.deepEqual(r.stderr, [line]);
  }
});

Deno.test("gen names file:line of a .proto error and exits 1, writing nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_gen_" });
  try {
    await Deno.writeTextFile(
      `${dir}/bad.proto`,
      `syntax = "proto3";\npackage p;\nmessage M {\n  string name = ;\n}\n`,
    );
    await Deno.writeTextFile(
      `${dir}/unresolved.proto`,
      `syntax = "proto3";\npackage p;\n\nmessage M {\n  Missing m = 1;\n}\n`,
    );
    await Deno.writeTextFile(
      `${dir}/misspelled.proto`,
      `syntax = "proto3";\nmessage M {\n  strin name = 1;\n}\n`,
    );
    await Deno.writeTextFile(
      `${dir}/importer.proto`,
      `syntax = "proto3";\n\nimport "nowhere.proto";\nmessage M {}\n`,
    );
    const expected: Array<[string, RegExp]> = [
      ["bad.proto", new RegExp(`^gen: ${dir}/bad\\.proto:4: illegal .*';'`)],
      [
        "unresolved.proto",
        new RegExp(`^gen: ${dir}/unresolved\\.proto:5: no such Type or Enum 'Missing'`),
      ],
      [
        "importer.proto",
        new RegExp(`^gen: ${dir}/importer\\.proto:3: cannot read import .*nowhere\\.proto`),
      ],
    ];
    for (const [file, line] of expected) {
      const r = await gen(["--out", `${dir}/out`, `${dir}/${file}`]);
      assert.equal(r.code, 1, file);
      assert.equal(r.stderr.length, 1, r.stderr.join("\n"));
      assert.match(r.stderr[0]!, line);
    }
    await assert.rejects(Deno.stat(`${dir}/out`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("generated modules pass deno fmt --check, deno lint and deno check (strict, noUncheckedIndexedAccess, with and without exactOptionalPropertyTypes), and run with no read permission", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_gen_" });
  try {
    const r = await gen([
      "--out",
      dir,
      "-I",
      "tests/_fixtures/typed",
      "--import-from",
      MOD,
      "tests/_fixtures/typed/shop.proto",
      "tests/_fixtures/kitchen.proto",
    ]);
    assert.equal(r.code, 0, r.stderr.join("\n"));
    const config = (exact: boolean) =>
      JSON.stringify({
        fmt: { lineWidth: 100 },
        lint: { rules: { tags: ["recommended"] } },
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: exact,
        },
      });
    await Deno.writeTextFile(`${dir}/deno.json`, config(true));
    const modules = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ts"));
    assert.equal(modules.length, 7, modules.join(", "));
    for (const step of [["fmt", "--check"], ["lint"], ["check"]]) {
      const s = await deno([...step, ...modules], dir);
      assert.equal(s.code, 0, `deno ${step.join(" ")}: ${s.stderr.join("\n")}`);
    }
    await Deno.writeTextFile(`${dir}/deno.json`, config(false));
    const loose = await deno(["check", ...modules], dir);
    assert.equal(loose.code, 0, `deno check without exactOptionalPropertyTypes: ${loose.stderr}`);

    // Served and called with no read permission: the .proto text is embedded.
    await Deno.writeTextFile(
      `${dir}/call.ts`,
      `import { RpcChannel, RpcProvider } from ${JSON.stringify(MOD)};
import { Kitchen } from "./kitchen_pb.ts";
await using provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
provider.notifyService(Kitchen, {
  Echo: (req) => ({ text: req.text + "!", i64: req.i64 }),
  Sleep: () => ({}),
  Fail: () => ({}),
  Unimplemented: () => ({}),
});
await provider.start();
await using channel = new RpcChannel({ address: provider.address });
const reply = await channel.stub(Kitchen).echo({ text: "hi", i64: 5n });
console.log(reply.text, reply.i64);
`,
    );
    const run = await deno(["run", "--no-prompt", "--allow-net=127.0.0.1", "call.ts"], dir);
    assert.equal(run.code, 0, run.stderr.join("\n"));
    assert.equal(run.stdout.trim(), "hi! 5");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the checked-in generated modules (examples, type tests) match a fresh generation", async () => {
  assert.deepEqual(await checkJobs(), []);
});
