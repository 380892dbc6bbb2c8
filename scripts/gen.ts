/**
 * `deno task gen`: typed modules from `.proto` files. For `a.proto` it writes `DIR/a_pb.ts`
 * (flat), and the same for each file `a.proto` imports and each well-known
 * `google/protobuf/*.proto` it uses (`google_protobuf_timestamp_pb.ts`). See docs/typed.md.
 *
 *   deno run --allow-read --allow-write <module>/scripts/gen.ts --out DIR [-I DIR]... a.proto ...
 *
 * Exit status: 0 written; 1 a `.proto` error (`file:line: message`) or a write error; 2 bad usage.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { flagProblem } from "./_cli.ts";
import { generate } from "../src/typed/codegen/generate.ts";
import { ProtoError } from "../src/schema/load_proto.ts";
import { protoErrorLine } from "../src/typed/codegen/proto_error_line.ts";

const USAGE = `usage: deno run --allow-read --allow-write scripts/gen.ts --out DIR [-I DIR]... ` +
  `[--import-from URL_OR_PATH] a.proto ...`;

let out: string;
let includes: string[];
let importFrom: string;
let files: string[];
try {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      out: { type: "string" },
      include: { type: "string", short: "I", multiple: true },
      "import-from": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    console.log("  --out DIR              where to write the modules (created if missing)");
    console.log("  -I, --include DIR      where to look for imported files (repeatable)");
    console.log("  --import-from SPEC     what the modules import the toolkit from");
    console.log("                         (default: this module's mod.ts URL)");
    Deno.exit(0);
  }
  if (values.out === undefined || values.out === "") throw new TypeError("--out DIR is required");
  if (positionals.length === 0) throw new TypeError("no .proto file given");
  const notProto = positionals.find((p) => !p.endsWith(".proto"));
  if (notProto !== undefined) throw new TypeError(`"${notProto}" is not a .proto file`);
  out = values.out;
  includes = values.include ?? [];
  importFrom = values["import-from"] ?? new URL("../mod.ts", import.meta.url).href;
  files = positionals;
} catch (e) {
  console.error(`gen: ${flagProblem(e)} (see --help)`);
  Deno.exit(2);
}

try {
  const generated = await generate(files, { includePaths: includes, importFrom });
  await Deno.mkdir(out, { recursive: true });
  for (const g of generated) {
    await Deno.writeTextFile(`${out.replace(/[\\/]$/, "")}/${g.name}`, g.content);
    console.log(`${g.proto} -> ${out.replace(/[\\/]$/, "")}/${g.name}`);
  }
} catch (e) {
  if (e instanceof ProtoError) {
    console.error(`gen: ${await protoErrorLine(e)}`);
  } else {
    console.error(`gen: ${e instanceof Error ? e.message : String(e)}`);
  }
  Deno.exit(1);
}
