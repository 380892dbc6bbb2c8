/**
 * Code layout as `deno fmt` (line width 100) leaves it, for the generator.
 *
 * @module
 */

/** The line width the generated code fits. */
export const LINE_WIDTH = 100;

/** `line` when it fits the line width, else `wrapped()`. */
export function lineOrWrapped(line: string, wrapped: () => string): string {
  return line.length <= LINE_WIDTH ? line : wrapped();
}

/** `text` as a JSDoc comment at `indent`, its paragraphs wrapped at word boundaries. */
export function comment(text: string, indent: string): string {
  const safe = text.replace(/\*\//g, "*\\/").replace(/\r/g, "").trim();
  const width = LINE_WIDTH - indent.length - 3;
  const lines: string[] = [];
  for (const raw of safe.split("\n")) {
    const line = raw.trimEnd();
    if (line.length <= width) {
      lines.push(line);
      continue;
    }
    let current = "";
    for (const word of line.split(/ +/)) {
      if (current !== "" && current.length + 1 + word.length > width) {
        lines.push(current);
        current = word;
      } else {
        current = current === "" ? word : `${current} ${word}`;
      }
    }
    if (current !== "") lines.push(current);
  }
  const single = `${indent}/** ${lines[0] ?? ""} */`;
  if (lines.length === 1 && single.length <= LINE_WIDTH) return single;
  return [
    `${indent}/**`,
    ...lines.map((l) => l === "" ? `${indent} *` : `${indent} * ${l}`),
    `${indent} */`,
  ].join("\n");
}

/** `text` as a template literal (backslashes, backticks and `${` escaped). */
export function templateLiteral(text: string): string {
  const escaped = text
    .replace(/\\/g, "\\\\")
    .replace(/`/g, "\\`")
    .replace(/\$\{/g, "\\${")
    .replace(/\r/g, "\\r");
  return `\`${escaped}\``;
}

/** The parts of `type` separated by `separator` outside `<>` and `()`. */
function splitTop(type: string, separator: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < type.length; i++) {
    const c = type[i];
    if (c === "<" || c === "(") depth++;
    else if (c === ">" || c === ")") depth--;
    else if (depth === 0 && type.startsWith(separator, i)) {
      out.push(type.slice(start, i));
      start = i + separator.length;
    }
  }
  out.push(type.slice(start));
  return out;
}

/**
 * `prefix + type + suffix` (e.g. `  name?: ` + a type + `;`) on one line when it fits, else broken
 * as deno fmt breaks it: a union one member per line (`| A`), a generic one argument per line.
 * `indent` is the indentation of the line `prefix` starts.
 */
export function layoutType(prefix: string, type: string, suffix: string, indent: string): string {
  const line = `${prefix}${type}${suffix}`;
  if (line.length <= LINE_WIDTH) return line;
  const members = splitTop(type, " | ");
  if (members.length > 1) {
    return [
      prefix.trimEnd(),
      ...members.map((m, i) =>
        layoutType(`${indent}  | `, m, i === members.length - 1 ? suffix : "", `${indent}  `)
      ),
    ].join("\n");
  }
  const generic = /^([\w.]+)<(.*)>$/s.exec(type);
  if (generic) {
    const args = splitTop(generic[2]!, ", ");
    return [
      `${prefix}${generic[1]}<`,
      ...args.map((a, i) =>
        layoutType(`${indent}  `, a, i === args.length - 1 ? "" : ",", `${indent}  `)
      ),
      `${indent}>${suffix}`,
    ].join("\n");
  }
  return line; // nothing to break
}
