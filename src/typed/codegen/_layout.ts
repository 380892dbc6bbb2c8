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
