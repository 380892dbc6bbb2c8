/**
 * The generated modules checked into this repository (the examples' and the type tests'), and
 * how they are made. `deno task gen:examples` regenerates them in place; `deno task gen:check`
 * (run by CI) regenerates them into a temp dir with `scripts/gen.ts` and fails on any
 * difference, so a checked-in module never drifts from its `.proto` or from the generator.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { flagProblem } from "./_cli.ts";

const ROOT = new URL("../", import.meta.url);

/** One `scripts/gen.ts` run: its output directory and its other arguments. */
export interface GenJob {
  /** Output directory, relative to the repository. */
  out: string;
  /** The other arguments (`-I`, `--import-from`, files), paths relative to the repository. */
  args: string[];
}

/** Every checked-in generated module comes from one of these runs. */
export const JOBS: readonly GenJob[] = [
  { out: "examples/user", args: ["--import-from", "../../mod.ts", "examples/user/user.proto"] },
  {
    out: "examples/friend",
    args: ["--import-from", "../../mod.ts", "examples/friend/friend.proto"],
  },
  {
    out: "tests/typed/_gen",
    args: [
      "-I",
      "tests/_fixtures/typed",
      "--import-from",
      "../../../mod.ts",
      "tests/_fixtures/typed/shop.proto",
      "tests/_fixtures/kitchen.proto",
    ],
  },
];

/** Runs `scripts/gen.ts` for `job` into `out`; throws with its stderr when it fails. */
export async function runGen(job: GenJob, out: string): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      new URL("scripts/gen.ts", ROOT).pathname,
      "--out",
      out,
      ...job.args,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr).trim());
}

async function pbFiles(dir: string | URL): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith("_pb.ts")) names.push(e.name);
  }
  return names.sort();
}

/** The differences between the checked-in modules and a fresh generation (empty: none). */
export async function checkJobs(jobs: readonly GenJob[] = JOBS): Promise<string[]> {
  const tmp = await Deno.makeTempDir({ prefix: "mprpc_gen_check_" });
  const problems: string[] = [];
  try {
    for (const [i, job] of jobs.entries()) {
      const out = `${tmp}/${i}`;
      await runGen(job, out);
      const fresh = await pbFiles(out);
      const kept = await pbFiles(new URL(`${job.out}/`, ROOT));
      for (const name of fresh) {
        const want = await Deno.readTextFile(`${out}/${name}`);
        const have = await Deno.readTextFile(new URL(`${job.out}/${name}`, ROOT)).catch(() =>
          undefined
        );
        if (have === undefined) problems.push(`${job.out}/${name} is missing`);
        else if (have !== want) problems.push(`${job.out}/${name} differs from a fresh generation`);
      }
      for (const name of kept) {
        if (!fresh.includes(name)) problems.push(`${job.out}/${name} is not generated any more`);
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  return problems;
}

if (import.meta.main) {
  let check = false;
  try {
    const { values } = parseArgs({
      args: Deno.args,
      options: { check: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
    });
    if (values.help) {
      console.log(
        "usage: deno task gen:examples   (regenerate)  |  deno task gen:check   (compare)",
      );
      Deno.exit(0);
    }
    check = values.check ?? false;
  } catch (e) {
    console.error(`gen: ${flagProblem(e)} (see --help)`);
    Deno.exit(2);
  }
  if (check) {
    const problems = await checkJobs();
    for (const p of problems) console.error(`gen:check: ${p} (run deno task gen:examples)`);
    if (problems.length > 0) Deno.exit(1);
    console.log(`gen:check: ${JOBS.length} generations match the checked-in modules`);
  } else {
    for (const job of JOBS) {
      await runGen(job, job.out);
      console.log(`regenerated ${job.out}`);
    }
  }
}
