/**
 * The generator in process: the embedded `.proto` text survives exactly, stub names are the
 * runtime's, long names and awkward comments stay within what deno fmt leaves, clashes are
 * refused.
 */
import assert from "node:assert/strict";
import { generate } from "../../../src/typed/codegen/generate.ts";
import { ConsoleLogger, parseProto, RpcChannel } from "../../../mod.ts";

const MOD = new URL("../../../mod.ts", import.meta.url).href;

const TRICKY = [
  "// A comment with a backtick `, a ${placeholder}, a backslash \\ and */ inside.",
  'syntax = "proto3";',
  "package tricky.v1;",
  "/* Block comment: `${x}` \\\\ */",
  "message AVeryLongMessageNameThatKeepsGoingToPushTheLineWidthBeyondWhatFitsOnOneLine {",
  "  // Field comment with */ in it, and long enough to need wrapping when it is written as a JSDoc comment line.",
  "  AVeryLongMessageNameThatKeepsGoingToPushTheLineWidthBeyondWhatFitsOnOneLine child_with_a_long_name = 1;",
  "  map<string, AVeryLongMessageNameThatKeepsGoingToPushTheLineWidthBeyondWhatFitsOnOneLine> by_key = 2;",
  "  string tab\t= 3;",
  "}",
  "message M { string text = 1; }",
  "// Named like toolkit exports: the module imports the toolkit as one namespace.",
  "message ProtoFile { string name = 1; }",
  "enum ServiceDefinition { SERVICE_DEFINITION_UNSPECIFIED = 0; }",
  "message UnaryMethod { ServiceDefinition kind = 1; ProtoFile file = 2; }",
  "service Names {",
  "  rpc Get(M) returns (M);",
  "  rpc get(M) returns (M);",
  "  rpc URLFetch(M) returns (M);",
  "  rpc ping(M) returns (M);",
  "  rpc Ping(M) returns (M);",
  "  rpc Odd(ProtoFile) returns (UnaryMethod);",
  "  rpc Long(AVeryLongMessageNameThatKeepsGoingToPushTheLineWidthBeyondWhatFitsOnOneLine) returns (M);",
  "}",
  "",
].join("\r\n");

async function withProto(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_codegen_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.mkdir(`${dir}/${name.slice(0, name.lastIndexOf("/") + 1)}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("the embedded .proto text is the file's exactly (backslashes, backticks, ${, CRLF), and the module (long names, names of toolkit exports) passes deno fmt --check, deno lint and deno check", async () => {
  await withProto({ "tricky.proto": TRICKY }, async (dir) => {
    const [module] = await generate([`${dir}/tricky.proto`], { importFrom: MOD });
    assert.equal(module?.name, "tricky_pb.ts");
    await Deno.writeTextFile(`${dir}/tricky_pb.ts`, module.content);
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        fmt: { lineWidth: 100 },
        compilerOptions: {
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
        },
      }),
    );
    const { file_tricky } = await import(`file://${dir}/tricky_pb.ts`);
    assert.equal(file_tricky.text, TRICKY);
    for (const step of [["fmt", "--check"], ["lint"], ["check"]]) {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [...step, "tricky_pb.ts"],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(r.code, 0, `deno ${step.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
    }
  });
});

Deno.test("a generated stub's method names are the runtime stub's, aliases included", async () => {
  await withProto({ "tricky.proto": TRICKY }, async (dir) => {
    const [module] = await generate([`${dir}/tricky.proto`], { importFrom: MOD });
    const body = module!.content.slice(module!.content.indexOf("export const Names"));
    const generated = [...body.matchAll(/^ {2}(\w+): [\w.]+</gm)].map((m) => m[1]).sort();
    await using channel = new RpcChannel({
      address: "127.0.0.1:1",
      logger: new ConsoleLogger("CRITICAL"),
    });
    const stub = channel.stub(parseProto(TRICKY).lookupService("tricky.v1.Names"));
    assert.deepEqual(generated, Object.keys(stub).sort());
  });
});

Deno.test("two files with one base name are refused: they would be written to one module", async () => {
  const text = (pkg: string) => `syntax = "proto3"; package ${pkg}; message M {}`;
  await withProto({ "a/x.proto": text("a"), "b/x.proto": text("b") }, async (dir) => {
    await assert.rejects(
      generate([`${dir}/a/x.proto`, `${dir}/b/x.proto`], { importFrom: MOD }),
      { name: "TypeError", message: /both be written to x_pb\.ts/ },
    );
  });
});

Deno.test("two declarations of one file exported under one name are refused", async () => {
  const text = `syntax = "proto3"; message A { message B {} } message A_B {}`;
  await withProto({ "clash.proto": text }, async (dir) => {
    await assert.rejects(generate([`${dir}/clash.proto`], { importFrom: MOD }), {
      name: "TypeError",
      message: /message A_B and message A\.B would both be exported as A_B/,
    });
  });
});

Deno.test("a declaration exported under the name the toolkit is imported as is refused", async () => {
  const text = `syntax = "proto3"; message mprpc {} service S { rpc M(mprpc) returns (mprpc); }`;
  await withProto({ "ns.proto": text }, async (dir) => {
    await assert.rejects(generate([`${dir}/ns.proto`], { importFrom: MOD }), {
      name: "TypeError",
      message:
        /message mprpc would be exported as mprpc, the name this module imports the toolkit as/,
    });
  });
});
