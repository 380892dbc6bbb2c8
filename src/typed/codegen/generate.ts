/**
 * The code generator behind `scripts/gen.ts`: one TypeScript module per `.proto` file, with the
 * types of its messages and enums and the typed definitions of its services, the file's text
 * embedded. The output is formatted as `deno fmt` (line width 100) leaves it.
 *
 * @module
 */
import { bundledProtoJson, protobuf } from "../../schema/_protobuf_internals.ts";
import {
  type LoadProtoOptions,
  loadProtoSources,
  type ProtoSource,
} from "../../schema/load_proto.ts";
import { fieldType, inRealOneof, isSyntheticOneof, type TypeRef } from "./_ts_types.ts";
import { comment, lineOrWrapped, templateLiteral } from "./_layout.ts";

/** The generator's version, written into every header. */
export const GENERATOR_VERSION = "0.1.0";

/** The well-known files protobufjs bundles (and the runtime adds on `import`). */
const WELL_KNOWN = [
  "any",
  "duration",
  "timestamp",
  "empty",
  "struct",
  "wrappers",
  "field_mask",
].map((n) => `google/protobuf/${n}.proto`);

/** Options of {@linkcode generate}. */
export interface GenerateOptions extends LoadProtoOptions {
  /** What generated modules import the toolkit from (a URL or a path relative to the output). */
  importFrom: string;
}

/** One generated module. */
export interface GeneratedFile {
  /** Its file name, e.g. `user_pb.ts`. */
  name: string;
  /** The `.proto` it was generated from (as named in its header). */
  proto: string;
  /** Its text. */
  content: string;
}

/** One module to write: a loaded `.proto`, or a bundled well-known one. */
interface Unit {
  /** The `.proto` name in the header and embedded file: the base name, or `google/protobuf/x.proto`. */
  proto: string;
  /** Output file base name without `.ts`, e.g. `user_pb`. */
  module: string;
  package: string;
  source: ProtoSource | undefined;
}

const basename = (path: string) => path.slice(path.replace(/\\/g, "/").lastIndexOf("/") + 1);

function moduleName(proto: string): string {
  const base = proto.startsWith("google/protobuf/") ? proto.replace(/\//g, "_") : basename(proto);
  return `${base.replace(/\.proto$/, "").replace(/[^A-Za-z0-9_]/g, "_")}_pb`;
}

/**
 * Loads `files` (and what they import) and generates a module for each file, each file they
 * import, and each well-known type file they use.
 *
 * @throws {ProtoError} when a file cannot be read, parsed or resolved.
 * @throws {TypeError} when two files would be written to the same module, or two declarations
 * of one file to the same exported name.
 */
export async function generate(
  files: string[],
  options: GenerateOptions,
): Promise<GeneratedFile[]> {
  const { root, sources } = await loadProtoSources(files, options);
  const units = new Map<string, Unit>(); // by source file, or by well-known name
  const byModule = new Map<string, string>();
  const add = (key: string, unit: Unit) => {
    const other = byModule.get(unit.module);
    if (other !== undefined && other !== key) {
      throw new TypeError(`${other} and ${key} would both be written to ${unit.module}.ts`);
    }
    byModule.set(unit.module, key);
    units.set(key, unit);
  };
  for (const source of sources) {
    const proto = basename(source.file);
    add(source.file, {
      proto,
      module: moduleName(proto),
      package: source.package ?? "",
      source,
    });
    for (const imp of source.imports) {
      if (imp.file === undefined && !units.has(imp.spec)) {
        add(imp.spec, {
          proto: imp.spec,
          module: moduleName(imp.spec),
          package: "google.protobuf",
          source: undefined,
        });
      }
    }
  }
  // Which unit declares each type.
  const owner = new Map<string, Unit>();
  for (const name of WELL_KNOWN) {
    const unit = units.get(name);
    const json = bundledProtoJson(name);
    if (unit === undefined || json === null) continue;
    const walk = (prefix: string, nested: Record<string, protobuf.AnyNestedObject> | undefined) => {
      for (const [k, v] of Object.entries(nested ?? {})) {
        const name = prefix === "" ? k : `${prefix}.${k}`;
        owner.set(name, unit);
        walk(name, (v as protobuf.INamespace).nested);
      }
    };
    walk("", json.nested);
  }
  const bySource = new Map(
    [...units.values()].flatMap((u) => u.source ? [[u.source.file, u]] : []),
  );
  const all: Array<protobuf.Type | protobuf.Enum | protobuf.Service> = [];
  const collect = (ns: protobuf.NamespaceBase) => {
    for (const obj of ns.nestedArray) {
      if (
        obj instanceof protobuf.Type || obj instanceof protobuf.Enum ||
        obj instanceof protobuf.Service
      ) {
        all.push(obj);
        const unit = obj.filename ? bySource.get(obj.filename) : undefined;
        if (unit !== undefined) owner.set(obj.fullName.slice(1), unit);
      }
      if (obj instanceof protobuf.Namespace) collect(obj);
    }
  };
  collect(root);
  const out: GeneratedFile[] = [];
  for (const unit of units.values()) {
    const decls = all.filter((o) => owner.get(o.fullName.slice(1)) === unit);
    out.push({
      name: `${unit.module}.ts`,
      proto: unit.proto,
      content: new ModuleWriter(unit, decls, owner, units, options.importFrom).write(),
    });
  }
  return out;
}

/** Writes one module. */
class ModuleWriter {
  #unit: Unit;
  #decls: Array<protobuf.Type | protobuf.Enum | protobuf.Service>;
  #owner: Map<string, Unit>;
  #units: Map<string, Unit>;
  #importFrom: string;
  /** Toolkit names used: value imports and type imports. */
  #toolkit = new Map<string, "value" | "type">();
  /** Other modules referred to: whether a value of each is used. */
  #modules = new Map<Unit, boolean>();
  #exported = new Map<string, string>();

  constructor(
    unit: Unit,
    decls: Array<protobuf.Type | protobuf.Enum | protobuf.Service>,
    owner: Map<string, Unit>,
    units: Map<string, Unit>,
    importFrom: string,
  ) {
    this.#unit = unit;
    this.#decls = decls;
    this.#owner = owner;
    this.#units = units;
    this.#importFrom = importFrom;
  }

  /** The exported name of a declaration of this module: its name below the package, `_`-joined. */
  #localName(obj: protobuf.ReflectionObject, unit: Unit): string {
    const full = obj.fullName.slice(1);
    const rel = unit.package && full.startsWith(`${unit.package}.`)
      ? full.slice(unit.package.length + 1)
      : full;
    return rel.replace(/\./g, "_");
  }

  #ref: TypeRef = (type) => {
    const unit = this.#owner.get(type.fullName.slice(1));
    if (unit === undefined) throw new TypeError(`No file declares ${type.fullName.slice(1)}`);
    const local = this.#localName(type, unit);
    if (type instanceof protobuf.Enum) this.#toolkitUse("EnumInit", "type");
    if (unit === this.#unit) return local;
    if (!this.#modules.has(unit)) this.#modules.set(unit, false);
    return `${unit.module}.${local}`;
  };

  #toolkitUse(name: string, kind: "value" | "type") {
    if (this.#toolkit.get(name) !== "value") this.#toolkit.set(name, kind);
  }

  #export(name: string, what: string) {
    const other = this.#exported.get(name);
    if (other !== undefined) {
      throw new TypeError(
        `${this.#unit.proto}: ${what} and ${other} would both be exported as ${name}`,
      );
    }
    this.#exported.set(name, what);
  }

  write(): string {
    const body: string[] = [];
    for (const obj of this.#decls) {
      if (obj instanceof protobuf.Enum) body.push(this.#enum(obj));
      else if (obj instanceof protobuf.Type) body.push(this.#message(obj));
    }
    const source = this.#unit.source;
    let fileName = "";
    if (source !== undefined) {
      body.push(this.#file(source));
      fileName = this.#fileConst(this.#unit);
    }
    for (const obj of this.#decls) {
      if (obj instanceof protobuf.Service) body.push(this.#service(obj, fileName));
    }
    const what = source !== undefined ? "Types and services" : "Types";
    const pkg = this.#unit.package ? ` (package \`${this.#unit.package}\`)` : "";
    const head = [
      `// Generated by mprpc gen ${GENERATOR_VERSION} from ${this.#unit.proto}. DO NOT EDIT.`,
      comment(
        `${what} of \`${this.#unit.proto}\`${pkg}.\n\n` +
          "For each message `M`: `type M` is what a receiver gets (every field present: absent " +
          "scalars as their defaults, absent messages as `null`, 64-bit integers as decimal " +
          "strings, `bytes` as `Uint8Array`, enums by name), `type MInit` what a sender may give " +
          "(every field optional, 64-bit integers as `string | number | bigint`, enums by name " +
          "or number). At most one member of a `oneof` is set.\n\n@module",
        "",
      ),
    ];
    const imports: string[] = [];
    if (this.#toolkit.size > 0) {
      const names = [...this.#toolkit.entries()]
        // As deno fmt sorts them: case-insensitively, upper case first on a tie.
        .sort(([a], [b]) => {
          const [x, y] = [a.toLowerCase(), b.toLowerCase()];
          return x !== y ? (x < y ? -1 : 1) : (a < b ? -1 : 1);
        })
        .map(([n, kind]) => kind === "type" ? `type ${n}` : n);
      const allTypes = [...this.#toolkit.values()].every((k) => k === "type");
      const specs = allTypes ? names.map((n) => n.slice(5)) : names;
      const from = JSON.stringify(this.#importFrom);
      const kw = allTypes ? "import type" : "import";
      imports.push(
        lineOrWrapped(
          `${kw} { ${specs.join(", ")} } from ${from};`,
          () => [`${kw} {`, ...specs.map((s) => `  ${s},`), `} from ${from};`].join("\n"),
        ),
      );
    }
    const modules = [...this.#modules.entries()].sort(([a], [b]) => a.module < b.module ? -1 : 1);
    for (const [unit, value] of modules) {
      imports.push(
        `import ${value ? "" : "type "}* as ${unit.module} from "./${unit.module}.ts";`,
      );
    }
    return [
      head.join("\n"),
      ...(imports.length > 0 ? [imports.join("\n")] : []),
      ...body,
    ].join("\n\n") + "\n";
  }

  #fileConst(unit: Unit): string {
    return `file_${unit.module.replace(/_pb$/, "")}`;
  }

  #file(source: ProtoSource): string {
    this.#toolkitUse("protoFile", "value");
    this.#toolkitUse("ProtoFile", "type");
    const name = this.#fileConst(this.#unit);
    this.#export(name, `the embedded ${this.#unit.proto}`);
    const deps: string[] = [];
    for (const imp of source.imports) {
      if (imp.file === undefined) continue;
      const unit = [...this.#units.values()].find((u) => u.source?.file === imp.file);
      if (unit === undefined || unit === this.#unit) continue;
      this.#modules.set(unit, true);
      const dep = `${unit.module}.${this.#fileConst(unit)}`;
      if (!deps.includes(dep)) deps.push(dep);
    }
    const proto = JSON.stringify(this.#unit.proto);
    const call = deps.length === 0
      ? `protoFile(${proto}, source)`
      : `protoFile(${proto}, source, [${deps.join(", ")}])`;
    const decl = lineOrWrapped(`export const ${name}: ProtoFile = ${call};`, () =>
      [
        `export const ${name}: ProtoFile = protoFile(${proto}, source, [`,
        ...deps.map((d) => `  ${d},`),
        "]);",
      ].join("\n"));
    return [
      `/** The text of \`${this.#unit.proto}\`. */`,
      lineOrWrapped(
          `const source = ${templateLiteral(source.text)};`.split("\n")[0]!,
          () => "const source =\n  ",
        ) === "const source =\n  "
        ? `const source =\n  ${templateLiteral(source.text)};`
        : `const source = ${templateLiteral(source.text)};`,
      "",
      comment(
        `The embedded \`${this.#unit.proto}\`: what the services of this module are parsed from, on first use.`,
        "",
      ),
      decl,
    ].join("\n");
  }

  #enum(e: protobuf.Enum): string {
    const name = this.#localName(e, this.#unit);
    this.#export(name, `enum ${e.fullName.slice(1)}`);
    const lines = [
      comment(
        `\`${e.fullName.slice(1)}\`: value name → number.${e.comment ? `\n\n${e.comment}` : ""}`,
        "",
      ),
      `export const ${name} = {`,
    ];
    for (const [k, v] of Object.entries(e.values)) {
      const c = e.comments[k];
      if (c) lines.push(comment(c, "  "));
      lines.push(`  ${k}: ${v},`);
    }
    lines.push("} as const;");
    lines.push(comment(`A value name of \`${e.fullName.slice(1)}\`.`, ""));
    lines.push(`export type ${name} = keyof typeof ${name};`);
    return lines.join("\n");
  }

  #message(t: protobuf.Type): string {
    const name = this.#localName(t, this.#unit);
    const full = t.fullName.slice(1);
    this.#export(name, `message ${full}`);
    this.#export(`${name}Init`, `message ${full} (as ${name}Init)`);
    const doc = t.comment ? `\n\n${t.comment}` : "";
    return [
      comment(`\`${full}\`, as received.${doc}`, ""),
      this.#messageType(t, name, false),
      comment(`\`${full}\`, as sent: every field optional.`, ""),
      this.#messageType(t, `${name}Init`, true),
    ].join("\n");
  }

  #messageType(t: protobuf.Type, name: string, init: boolean): string {
    const fields = t.fieldsArray.filter((f) => !f.declaringField);
    if (fields.length === 0) return `export type ${name} = Record<PropertyKey, never>;`;
    const plain = fields.filter((f) => !inRealOneof(f));
    const oneofs = t.oneofsArray.filter((o) => !isSyntheticOneof(o));
    const member = (f: protobuf.Field, indent: string, absent = false): string[] => {
      const out: string[] = [];
      if (f.comment && !absent) out.push(comment(f.comment, indent));
      const optional = init || f.partOf !== null;
      let type = absent ? (init ? "null | undefined" : "undefined") : fieldType(f, this.#ref, init);
      if (init && !absent) type += " | undefined";
      const head = `${indent}${f.name}${optional ? "?" : ""}:`;
      out.push(
        lineOrWrapped(
          `${head} ${type};`,
          () =>
            [
              head,
              ...splitUnion(type).map((p, i, a) =>
                `${indent}  | ${p}${i === a.length - 1 ? ";" : ""}`
              ),
            ].join("\n"),
        ),
      );
      return out.flatMap((l) => l.split("\n"));
    };
    const parts: string[][] = [];
    if (plain.length > 0) parts.push(plain.flatMap((f) => member(f, "    ")));
    const unions = oneofs.map((o) =>
      o.fieldsArray.map((set) => o.fieldsArray.flatMap((f) => member(f, "      ", f !== set)))
    );
    if (parts.length === 0 && unions.length === 1) {
      // Only one oneof: a plain union.
      return [
        `export type ${name} =`,
        ...unions[0]!.flatMap((v) => ["  | {", ...v.map(dedent(2)), "  }"]),
      ].join("\n") + ";";
    }
    if (unions.length === 0) {
      return [`export type ${name} = {`, ...parts[0]!.map(dedent(2)), "};"].join("\n");
    }
    const lines = [`export type ${name} =`];
    if (parts.length > 0) lines.push("  & {", ...parts[0]!, "  }");
    for (const u of unions) {
      lines.push("  & (");
      for (const v of u) lines.push("    | {", ...v, "    }");
      lines.push("  )");
    }
    return lines.join("\n") + ";";
  }

  #service(s: protobuf.Service, fileConst: string): string {
    const name = this.#localName(s, this.#unit);
    const full = s.fullName.slice(1);
    this.#export(name, `service ${full}`);
    this.#toolkitUse("defineService", "value");
    this.#toolkitUse("ServiceDefinition", "type");
    const lines = [
      comment(
        `\`${full}\`: \`channel.stub(${name})\` calls it, \`provider.notifyService(${name}, impl)\` serves it.${
          s.comment ? `\n\n${s.comment}` : ""
        }`,
        "",
      ),
      `export const ${name}: ServiceDefinition<{`,
    ];
    // The stub's names, as the runtime gives them: each method under its name, then under its
    // lowerCamelCase alias unless a method or an earlier alias has that name.
    const methods = s.methodsArray;
    const keys = new Map<string, protobuf.Method>();
    for (const m of methods) {
      keys.set(m.name, m);
      const camel = m.name.charAt(0).toLowerCase() + m.name.slice(1);
      if (!keys.has(camel) && !methods.some((o) => o.name === camel)) keys.set(camel, m);
    }
    for (const [key, m] of keys) {
      if (key !== m.name) {
        lines.push(comment(`Alias of \`${m.name}\`.`, "  "));
        this.#toolkitUse("MethodAlias", "type");
        lines.push(`  ${key}: MethodAlias<"${m.name}">;`);
        continue;
      }
      m.resolve();
      const kind = m.requestStream
        ? (m.responseStream ? "BidiStreamingMethod" : "ClientStreamingMethod")
        : (m.responseStream ? "ServerStreamingMethod" : "UnaryMethod");
      this.#toolkitUse(kind, "type");
      const req = this.#ref(m.resolvedRequestType!);
      const res = this.#ref(m.resolvedResponseType!);
      const args = [req, `${req}Init`, res, `${res}Init`];
      if (m.comment) lines.push(comment(m.comment, "  "));
      lines.push(
        lineOrWrapped(
          `  ${key}: ${kind}<${args.join(", ")}>;`,
          () =>
            [`  ${key}: ${kind}<`, ...args.map((a, i) => `    ${a}${i < 3 ? "," : ""}`), "  >;"]
              .join("\n"),
        ),
      );
    }
    lines.push(
      lineOrWrapped(
        `}> = defineService(${fileConst}, "${full}");`,
        () => [`}> = defineService(`, `  ${fileConst},`, `  "${full}",`, ");"].join("\n"),
      ),
    );
    return lines.join("\n");
  }
}

/** The members of a top-level union type written as `A | B | C`. */
function splitUnion(type: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < type.length; i++) {
    const c = type[i];
    if (c === "<" || c === "(") depth++;
    else if (c === ">" || c === ")") depth--;
    else if (depth === 0 && type.startsWith(" | ", i)) {
      out.push(type.slice(start, i));
      start = i + 3;
    }
  }
  out.push(type.slice(start));
  return out;
}

function dedent(n: number): (line: string) => string {
  return (line) => line.slice(n);
}
