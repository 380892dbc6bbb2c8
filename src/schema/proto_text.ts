/**
 * `.proto` source text from `google.protobuf.FileDescriptorProto`s: what `mprpc describe` prints.
 *
 * protobufjs has no Root → text printer (its CLI's `proto` target lives in `protobufjs-cli`,
 * which pulls in jsdoc and a bundler), and the descriptors reflection sends are small and regular:
 * messages (fields, maps, oneofs, nested messages and enums), enums and services. Options other
 * than `packed` and comments are not carried by reflection, so they are not printed. Type names
 * are printed relative to the file's package where they are in it, fully qualified otherwise.
 *
 * @module
 */
import { SCALAR_TYPE_NAMES } from "./scalar_type_names.ts";

// deno-lint-ignore no-explicit-any
type Descriptor = any; // a decoded descriptor message of protobufjs's descriptor ext

const LABEL_REPEATED = 3;
const LABEL_REQUIRED = 2;

/** The oneof a field belongs to (decoded messages inherit a default 0: only an own value counts). */
function oneofOf(f: Descriptor): number | undefined {
  return Object.hasOwn(f, "oneofIndex") ? f.oneofIndex : undefined;
}

/** Prints type names relative to one package. */
class Printer {
  readonly lines: string[] = [];
  constructor(readonly pkg: string, readonly syntax: string) {}

  typeName(name: string): string {
    const prefix = this.pkg === "" ? "." : `.${this.pkg}.`;
    return name.startsWith(prefix) ? name.slice(prefix.length) : name.replace(/^\./, "");
  }

  fieldType(f: Descriptor): string {
    return f.typeName
      ? this.typeName(f.typeName)
      : SCALAR_TYPE_NAMES[f.type] ?? `/* type ${f.type} */ bytes`;
  }

  field(f: Descriptor, indent: string, entries: Map<string, Descriptor>, scope: string): void {
    const entry = f.typeName
      ? entries.get(f.typeName) ?? entries.get(`${scope}.${f.typeName}`)
      : undefined;
    let text: string;
    if (entry !== undefined && f.label === LABEL_REPEATED) {
      const [k, v] = entry.field;
      text = `map<${this.fieldType(k)}, ${this.fieldType(v)}> ${f.name} = ${f.number}`;
    } else {
      const label = f.label === LABEL_REPEATED
        ? "repeated "
        : f.label === LABEL_REQUIRED
        ? "required "
        : this.syntax === "proto2" || f.proto3Optional
        ? "optional "
        : "";
      text = `${label}${this.fieldType(f)} ${f.name} = ${f.number}`;
    }
    if (f.options?.packed === false && this.syntax === "proto3") text += " [packed = false]";
    else if (f.options?.packed === true && this.syntax === "proto2") text += " [packed = true]";
    this.lines.push(`${indent}${text};`);
  }

  enumType(e: Descriptor, indent: string): void {
    this.lines.push(`${indent}enum ${e.name} {`);
    for (const v of e.value ?? []) this.lines.push(`${indent}  ${v.name} = ${v.number};`);
    this.lines.push(`${indent}}`);
  }

  message(m: Descriptor, indent: string, scope: string): void {
    const full = `${scope}.${m.name}`;
    const entries = new Map<string, Descriptor>();
    for (const n of m.nestedType ?? []) {
      if (n.options?.mapEntry) entries.set(`${full}.${n.name}`, n);
    }
    const fields: Descriptor[] = m.field ?? [];
    const oneofs: Descriptor[] = m.oneofDecl ?? [];
    if (
      fields.length === 0 && (m.nestedType ?? []).length === 0 && (m.enumType ?? []).length === 0
    ) {
      this.lines.push(`${indent}message ${m.name} {}`);
      return;
    }
    this.lines.push(`${indent}message ${m.name} {`);
    const inner = `${indent}  `;
    const printedOneofs = new Set<number>();
    for (const f of fields) {
      const o = oneofOf(f);
      if (typeof o === "number" && !f.proto3Optional && oneofs[o] !== undefined) {
        if (printedOneofs.has(o)) continue;
        printedOneofs.add(o);
        this.lines.push(`${inner}oneof ${oneofs[o].name} {`);
        for (const g of fields) if (oneofOf(g) === o) this.field(g, `${inner}  `, entries, full);
        this.lines.push(`${inner}}`);
        continue;
      }
      this.field(f, inner, entries, full);
    }
    for (const n of m.nestedType ?? []) if (!n.options?.mapEntry) this.message(n, inner, full);
    for (const e of m.enumType ?? []) this.enumType(e, inner);
    this.lines.push(`${indent}}`);
  }

  method(m: Descriptor, indent: string): void {
    const req = `${m.clientStreaming ? "stream " : ""}${this.typeName(m.inputType)}`;
    const res = `${m.serverStreaming ? "stream " : ""}${this.typeName(m.outputType)}`;
    this.lines.push(`${indent}rpc ${m.name}(${req}) returns (${res});`);
  }

  service(s: Descriptor, indent: string): void {
    this.lines.push(`${indent}service ${s.name} {`);
    for (const m of s.method ?? []) this.method(m, `${indent}  `);
    this.lines.push(`${indent}}`);
  }
}

/**
 * The `.proto` text of one decoded `FileDescriptorProto`.
 *
 * @example
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * import { decodeFileDescriptors, fileDescriptors } from "./file_descriptors.ts";
 * import { protoText } from "./proto_text.ts";
 * const root = parseProto(`syntax = "proto3"; package demo;
 *   message Msg { string text = 1; map<string, int32> counts = 2; }
 *   service Echo { rpc Say(Msg) returns (Msg); }`);
 * const [file] = decodeFileDescriptors(fileDescriptors(root.lookupService("demo.Echo")));
 * const text = protoText(file);
 * if (!text.includes("map<string, int32> counts = 2;")) throw new Error(text);
 * if (!text.includes("rpc Say(Msg) returns (Msg);")) throw new Error(text);
 * ```
 */
export function protoText(file: Descriptor): string {
  const pkg: string = file.package ?? "";
  const syntax: string = file.syntax || "proto2";
  const p = new Printer(pkg, syntax);
  p.lines.push(`// ${file.name}`);
  p.lines.push(`syntax = "${syntax}";`);
  if (pkg !== "") p.lines.push("", `package ${pkg};`);
  if ((file.dependency ?? []).length > 0) {
    p.lines.push("");
    for (const d of file.dependency) p.lines.push(`import "${d}";`);
  }
  const scope = pkg === "" ? "" : `.${pkg}`;
  for (const m of file.messageType ?? []) {
    p.lines.push("");
    p.message(m, "", scope);
  }
  for (const e of file.enumType ?? []) {
    p.lines.push("");
    p.enumType(e, "");
  }
  for (const s of file.service ?? []) {
    p.lines.push("");
    p.service(s, "");
  }
  return p.lines.join("\n") + "\n";
}

/**
 * The `.proto` text of one method of a service (its `rpc` line) followed by the definitions of
 * its request and response messages, found in `files` (decoded `FileDescriptorProto`s).
 *
 * @throws {TypeError} when `files` do not declare `service` with a method `method`.
 */
export function methodText(files: Descriptor[], service: string, method: string): string {
  type Found = { file: Descriptor; d: Descriptor; kind: string } | undefined;
  const find = (full: string): Found => {
    for (const file of files) {
      const scope = file.package ? `.${file.package}` : "";
      const walk = (list: Descriptor[], prefix: string, kind: string): Found => {
        for (const d of list ?? []) {
          const name = `${prefix}.${d.name}`;
          if (name === full) return { file, d, kind };
          if (kind === "message") {
            const inner: Found = walk(d.nestedType, name, "message") ??
              walk(d.enumType, name, "enum");
            if (inner) return inner;
          }
        }
        return undefined;
      };
      const hit = walk(file.service, scope, "service") ??
        walk(file.messageType, scope, "message") ??
        walk(file.enumType, scope, "enum");
      if (hit) return hit;
    }
    return undefined;
  };
  const svc = find(`.${service}`);
  const m = svc?.kind === "service"
    ? (svc.d.method ?? []).find((x: Descriptor) => x.name === method)
    : undefined;
  if (svc === undefined || m === undefined) {
    throw new TypeError(`Service ${service} has no method "${method}"`);
  }
  const p = new Printer(svc.file.package ?? "", svc.file.syntax || "proto2");
  p.lines.push(`// ${service}`);
  p.method(m, "");
  for (const name of new Set([m.inputType, m.outputType])) {
    const t = find(name);
    if (t === undefined) continue;
    const q = new Printer(t.file.package ?? "", t.file.syntax || "proto2");
    q.lines.push("", `// ${name.replace(/^\./, "")}`);
    q.message(t.d, "", name.slice(0, name.lastIndexOf(".")));
    p.lines.push(...q.lines);
  }
  return p.lines.join("\n") + "\n";
}
