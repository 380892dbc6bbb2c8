/**
 * Summarizes V8 `.cpuprofile` files (from `deno run --cpu-prof`): the functions with the most
 * self time, and the same grouped by source file.
 *
 * `deno run -A bench/cpuprofile_top.ts <file-or-dir>... [--top N]`
 *
 * @module
 */

/** One row of the summary. */
export interface ProfileRow {
  name: string;
  selfMs: number;
  percent: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time per function and per file of a profile, biggest first.
 *
 * @example
 * ```ts ignore
 * const s = summarize(JSON.parse(await Deno.readTextFile("CPU.123.cpuprofile")), 10);
 * console.log(s.functions[0]); // { name: "op_write", selfMs: 423.2, percent: 11.8 }
 * ```
 */
export function summarize(
  profile: CpuProfile,
  top = 25,
): { totalMs: number; functions: ProfileRow[]; files: ProfileRow[] } {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    total += dt;
  }
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)!.callFrame;
    const file = shortUrl(f.url);
    const name = `${f.functionName || "(anonymous)"} ${file ? `${file}:${f.lineNumber + 1}` : ""}`
      .trim();
    fns.set(name, (fns.get(name) ?? 0) + us);
    const fn = f.functionName || "(native)";
    const group = file || (fn.startsWith("(") ? fn : `(${fn})`);
    files.set(group, (files.get(group) ?? 0) + us);
  }
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
      name,
      selfMs: Math.round(us / 100) / 10,
      percent: Math.round((us / total) * 1000) / 10,
    }));
  return { totalMs: Math.round(total / 1000), functions: rows(fns), files: rows(files) };
}

function shortUrl(url: string): string {
  if (!url) return "";
  const npm = url.match(/node_modules\/(?:\.deno\/)?[^/]+\/node_modules\/(.*)$/) ??
    url.match(/registry\.npmjs\.org\/(.*)$/);
  if (npm) return `npm:${npm[1]}`;
  const src = url.match(/\/((?:src|bench|ext|tests)\/.*)$/);
  if (src) return src[1]!;
  return url.replace(/^file:\/\//, "");
}

/**
 * Formats a summary as text.
 *
 * @example
 * ```ts ignore
 * console.log(formatSummary("caller", summarize(profile)));
 * ```
 */
export function formatSummary(title: string, s: ReturnType<typeof summarize>): string {
  const lines = [`${title}: ${s.totalMs} ms sampled`, "  top self time by function:"];
  for (const r of s.functions) {
    lines.push(
      `    ${r.percent.toFixed(1).padStart(5)}%  ${String(r.selfMs).padStart(8)} ms  ${r.name}`,
    );
  }
  lines.push("  by file:");
  for (const r of s.files.slice(0, 12)) {
    lines.push(
      `    ${r.percent.toFixed(1).padStart(5)}%  ${String(r.selfMs).padStart(8)} ms  ${r.name}`,
    );
  }
  return lines.join("\n");
}

/**
 * The `.cpuprofile` files at `path` (a file, or a directory's files).
 *
 * @example
 * ```ts ignore
 * for (const f of await profileFiles("/tmp/prof")) console.log(f);
 * ```
 */
export async function profileFiles(path: string): Promise<string[]> {
  const st = await Deno.stat(path);
  if (!st.isDirectory) return [path];
  const out: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && e.name.endsWith(".cpuprofile")) out.push(`${path}/${e.name}`);
  }
  return out.sort();
}

if (import.meta.main) {
  const args = [...Deno.args];
  let top = 25;
  const i = args.indexOf("--top");
  if (i >= 0) {
    top = Number(args[i + 1]);
    args.splice(i, 2);
  }
  if (args.length === 0) {
    console.error("usage: deno run -A bench/cpuprofile_top.ts <file-or-dir>... [--top N]");
    Deno.exit(2);
  }
  for (const a of args) {
    for (const f of await profileFiles(a)) {
      const profile = JSON.parse(await Deno.readTextFile(f)) as CpuProfile;
      console.log(formatSummary(f, summarize(profile, top)));
    }
  }
}
