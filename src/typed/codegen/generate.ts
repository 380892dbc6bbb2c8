/**
 * The code generator behind `scripts/gen.ts`: one TypeScript module per `.proto` file, with the
 * types of its messages and enums and the typed definitions of its services, the file's text
 * embedded. The output is formatted as `deno fmt` (line width 100) leaves it.
 *
 * @module
 */
import { bundledProtoJson, protobuf } from "../../schema/_protobuf_internals.ts";
import { type LoadProtoOptions, loadProtoSources } from "../../schema/load_proto.ts";
import { GENERATOR_VERSION, ModuleWriter, type Unit } from "./module_writer.ts";

export { GENERATOR_VERSION };

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
