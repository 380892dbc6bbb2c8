/**
 * A {@linkcode ProtoError} as one `file:line: problem` line, for the generator's command line.
 *
 * @module
 */
import type { ProtoError } from "../../schema/load_proto.ts";

/** The 1-based number of the first line of `file` matching `re`, if any. */
async function lineOf(file: string, re: RegExp): Promise<number | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return undefined;
  }
  const i = text.split("\n").findIndex((l) => re.test(l.replace(/\/\/.*$/, "")));
  return i < 0 ? undefined : i + 1;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `file:line: problem` for `e` (`file: problem` when no line is known). */
export async function protoErrorLine(e: ProtoError): Promise<string> {
  const message = e.message;
  // The parser: "Cannot parse proto file F: illegal token 'x' (F, line 3)".
  const parsed = /^Cannot parse proto file .*?: (.*) \((.*), line (\d+)\)$/s.exec(message);
  if (parsed) return `${parsed[2]}:${parsed[3]}: ${parsed[1]}`;
  // A type that does not resolve: the first line naming it.
  const resolve = /^Cannot resolve types in .*?: (.*)$/s.exec(message);
  if (resolve) {
    const name = (/no such type: ([\w.]+)/.exec(resolve[1]!) ?? /'([\w.]+)'/.exec(resolve[1]!))
      ?.[1];
    const line = name === undefined
      ? undefined
      : await lineOf(e.file, new RegExp(`(^|[^\\w.])${escapeRe(name)}([^\\w.]|$)`));
    return `${e.file}${line === undefined ? "" : `:${line}`}: ${resolve[1]}`;
  }
  // An import that cannot be read: the import line of the importing file.
  const read = /^Cannot read proto file (.*?) \(imported by (.*?)\): (.*)$/s.exec(message);
  if (read) {
    const base = read[1]!.slice(read[1]!.lastIndexOf("/") + 1);
    const importer = read[2]!;
    const line = await lineOf(importer, new RegExp(`import\\b.*${escapeRe(base)}`));
    return `${importer}${line === undefined ? "" : `:${line}`}: cannot read import ${read[1]}: ${
      read[3]
    }`;
  }
  // Another problem naming a declaration ("duplicate name 'X'"): the first line naming it.
  const problem = message.replace(/^Cannot \w+ proto (file|text) .*?: /s, "");
  const named = /'([\w.]+)'/.exec(problem)?.[1]?.split(".").at(-1);
  const line = named === undefined
    ? undefined
    : await lineOf(e.file, new RegExp(`(^|[^\\w.])${escapeRe(named)}([^\\w.]|$)`));
  return `${e.file}${line === undefined ? "" : `:${line}`}: ${problem}`;
}
