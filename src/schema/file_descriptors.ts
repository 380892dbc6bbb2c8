/**
 * Services as `google.protobuf.FileDescriptorProto`s and back: what reflection sends so that a
 * client can call a service without its `.proto`.
 *
 * {@linkcode fileDescriptors} gathers every declaration a service needs (its request and response
 * messages, the messages and enums they use, transitively), groups them by the file that declared
 * them, and encodes one `FileDescriptorProto` per file, with fully qualified type names, map
 * fields as `...Entry` messages and `dependency` naming the other files. protobufjs's own
 * `Root#toDescriptor` groups by package instead of file, writes relative type names and no
 * dependencies; its per-message conversion is reused here and those three things are repaired.
 * {@linkcode rootFromFileDescriptors} is the way back, turning `...Entry` messages into map
 * fields again (protobufjs's `Root.fromDescriptor` leaves them repeated messages).
 *
 * File names are the base names of the `.proto` files the types were loaded from (no directory:
 * reflection does not reveal the provider's paths); types parsed from text or added as JSON are
 * named after their package.
 *
 * @module
 */
import { protobufDescriptor } from "../deps.ts";
import { protobuf } from "./_protobuf_internals.ts";
import { SCALAR_TYPE_NAMES } from "./scalar_type_names.ts";

// deno-lint-ignore no-explicit-any
type Descriptor = any; // protobufjs's descriptor messages (untyped in its ext)

/** protobufjs's per-object conversion (added by the descriptor ext; untyped). */
function toDescriptor(obj: protobuf.ReflectionObject, edition?: string): Descriptor {
  return (obj as unknown as { toDescriptor(edition?: string): Descriptor }).toDescriptor(edition);
}

/** A top-level declaration: a message, enum or service directly in a package. */
type Decl = protobuf.Type | protobuf.Enum | protobuf.Service;

/** Files of the well-known types (protobufjs adds them without a file name). */
const WELL_KNOWN_FILES: Record<string, string> = {
  Any: "any",
  Duration: "duration",
  Empty: "empty",
  FieldMask: "field_mask",
  Struct: "struct",
  Value: "struct",
  ListValue: "struct",
  NullValue: "struct",
  Timestamp: "timestamp",
  DoubleValue: "wrappers",
  FloatValue: "wrappers",
  Int64Value: "wrappers",
  UInt64Value: "wrappers",
  Int32Value: "wrappers",
  UInt32Value: "wrappers",
  BoolValue: "wrappers",
  StringValue: "wrappers",
  BytesValue: "wrappers",
};

/** The outermost message (or the enum/service itself) that holds `obj` at package level. */
function topLevel(obj: protobuf.ReflectionObject): Decl {
  let top = obj;
  while (top.parent instanceof protobuf.Type) top = top.parent;
  return top as Decl;
}

function packageOf(decl: Decl): string {
  return decl.parent ? decl.parent.fullName.replace(/^\./, "") : "";
}

function fileNameOf(decl: Decl): string {
  const pkg = packageOf(decl);
  if (decl.filename) return decl.filename.replace(/^.*[\\/]/, "");
  if (pkg === "google.protobuf" && WELL_KNOWN_FILES[decl.name]) {
    return `google/protobuf/${WELL_KNOWN_FILES[decl.name]}.proto`;
  }
  return `${pkg === "" ? "root" : pkg.replace(/\./g, "/")}.proto`;
}

/** Every declaration `service` needs, the service first, in a stable order. */
function gather(service: protobuf.Service): Decl[] {
  const out: Decl[] = [];
  const seen = new Set<Decl>();
  const visitType = (t: protobuf.Type): void => {
    for (const f of t.fieldsArray) {
      f.resolve();
      if (f.resolvedType) visit(topLevel(f.resolvedType));
    }
    for (const n of t.nestedArray) if (n instanceof protobuf.Type) visitType(n);
  };
  const visit = (decl: Decl): void => {
    if (seen.has(decl)) return;
    seen.add(decl);
    out.push(decl);
    if (decl instanceof protobuf.Type) visitType(decl);
  };
  visit(service);
  for (const m of service.methodsArray) {
    m.resolve();
    visit(topLevel(m.resolvedRequestType!));
    visit(topLevel(m.resolvedResponseType!));
  }
  return out;
}

function upperFirst(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** Fully qualifies the type names of `d` (converted from `t`) and names map entries `XEntry`. */
function qualify(t: protobuf.Type, d: Descriptor): void {
  for (const f of t.fieldsArray) {
    const fd = d.field.find((x: Descriptor) => x.name === f.name);
    if (fd === undefined) continue;
    f.resolve();
    if (f instanceof protobuf.MapField) {
      const short = upperFirst(f.name);
      const entry = d.nestedType.find((x: Descriptor) => x.name === short && x.options?.mapEntry);
      if (entry === undefined) continue;
      entry.name = `${short}Entry`;
      fd.typeName = `${t.fullName}.${entry.name}`;
      const value = entry.field[1];
      if (f.resolvedType) value.typeName = f.resolvedType.fullName;
    } else if (f.resolvedType) {
      fd.typeName = f.resolvedType.fullName;
    }
  }
  for (const n of t.nestedArray) {
    if (!(n instanceof protobuf.Type)) continue;
    const nd = d.nestedType.find((x: Descriptor) => x.name === n.name);
    if (nd !== undefined) qualify(n, nd);
  }
}

function syntaxOf(decl: Decl): "proto2" | "proto3" {
  return (decl as unknown as { _edition?: string })._edition === "proto2" ? "proto2" : "proto3";
}

/**
 * The `FileDescriptorProto`s (encoded) of the file declaring `service` (first) and of every file
 * it needs, each once.
 *
 * @example Reflecting a service and calling it back from the descriptors
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * import { fileDescriptors, rootFromFileDescriptors } from "./file_descriptors.ts";
 * const root = parseProto(`syntax = "proto3"; package demo;
 *   message Msg { string text = 1; map<string, int32> counts = 2; }
 *   service Echo { rpc Say(Msg) returns (Msg); }`);
 * const files = fileDescriptors(root.lookupService("demo.Echo"));
 * const copy = rootFromFileDescriptors(files);
 * const msg = copy.lookupType("demo.Msg");
 * if (!msg.fields["counts"]?.map) throw new Error("map lost");
 * ```
 */
export function fileDescriptors(service: protobuf.Service): Uint8Array[] {
  const files = new Map<string, { pkg: string; syntax: string; decls: Decl[] }>();
  const fileOf = new Map<Decl, string>();
  for (const decl of gather(service)) {
    const pkg = packageOf(decl);
    let name = fileNameOf(decl);
    // Two packages under one base name (files of the same name in different directories).
    for (let i = 2; files.has(name) && files.get(name)!.pkg !== pkg; i++) {
      name = `${fileNameOf(decl).replace(/\.proto$/, "")}_${i}.proto`;
    }
    let file = files.get(name);
    if (file === undefined) files.set(name, file = { pkg, syntax: syntaxOf(decl), decls: [] });
    file.decls.push(decl);
    fileOf.set(decl, name);
  }
  const out: Uint8Array[] = [];
  for (const [name, file] of files) {
    const deps = new Set<string>();
    const fd: Descriptor = protobufDescriptor.FileDescriptorProto.create({
      name,
      package: file.pkg,
      syntax: file.syntax,
    });
    for (const decl of file.decls) {
      const need = (obj: protobuf.ReflectionObject | null) => {
        if (obj === null) return;
        const other = fileOf.get(topLevel(obj));
        if (other !== undefined && other !== name) deps.add(other);
      };
      if (decl instanceof protobuf.Service) {
        fd.service.push(toDescriptor(decl));
        for (const m of decl.methodsArray) {
          need(m.resolvedRequestType);
          need(m.resolvedResponseType);
        }
      } else if (decl instanceof protobuf.Enum) {
        fd.enumType.push(toDescriptor(decl));
      } else {
        const d = toDescriptor(decl, file.syntax);
        qualify(decl, d);
        fd.messageType.push(d);
        const walk = (t: protobuf.Type): void => {
          for (const f of t.fieldsArray) need(f.resolvedType);
          for (const n of t.nestedArray) if (n instanceof protobuf.Type) walk(n);
        };
        walk(decl);
      }
    }
    fd.dependency = [...deps];
    out.push(protobufDescriptor.FileDescriptorProto.encode(fd).finish());
  }
  return out;
}

/** Decodes encoded `FileDescriptorProto`s (as {@linkcode fileDescriptors} makes them). */
export function decodeFileDescriptors(files: Uint8Array[]): Descriptor[] {
  return files.map((bytes) => protobufDescriptor.FileDescriptorProto.decode(bytes));
}

/**
 * A root holding every type of `files` (encoded `FileDescriptorProto`s), with map fields.
 *
 * @throws {TypeError} when the files do not decode or their types do not resolve.
 */
export function rootFromFileDescriptors(files: Uint8Array[]): protobuf.Root {
  let decoded: Descriptor[];
  try {
    decoded = decodeFileDescriptors(files);
  } catch (e) {
    throw new TypeError(`Cannot decode file descriptors: ${(e as Error).message}`);
  }
  const entries = new Map<string, { key: string; value: string }>();
  const collect = (prefix: string, d: Descriptor): void => {
    for (const n of d.nestedType ?? []) {
      const full = `${prefix}.${n.name}`;
      if (n.options?.mapEntry) {
        const [k, v] = n.field;
        entries.set(full, {
          key: SCALAR_TYPE_NAMES[k.type] ?? "string",
          value: v.typeName ? v.typeName : SCALAR_TYPE_NAMES[v.type] ?? "bytes",
        });
      } else collect(full, n);
    }
  };
  for (const f of decoded) {
    const pkg = f.package ? `.${f.package}` : "";
    for (const m of f.messageType ?? []) collect(`${pkg}.${m.name}`, m);
  }
  let root: protobuf.Root;
  try {
    const Root = protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root };
    root = Root.fromDescriptor({ file: decoded });
    const fix = (ns: protobuf.NamespaceBase): void => {
      for (const n of [...ns.nestedArray]) {
        if (n instanceof protobuf.Type) {
          for (const f of [...n.fieldsArray]) {
            const entry = entries.get(f.type) ?? entries.get(`${n.fullName}.${f.type}`);
            if (entry === undefined) continue;
            n.remove(f);
            n.add(new protobuf.MapField(f.name, f.id, entry.key, entry.value));
            const nested = n.nested?.[f.type.slice(f.type.lastIndexOf(".") + 1)];
            if (nested !== undefined) n.remove(nested);
          }
        }
        if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) fix(n);
      }
    };
    fix(root);
    root.resolveAll();
  } catch (e) {
    throw new TypeError(`Cannot build types from file descriptors: ${(e as Error).message}`);
  }
  return root;
}
