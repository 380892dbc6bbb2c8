/**
 * Loading `.proto` files at run time, with no build step.
 *
 * @module
 */
import { errorMessage } from "../util/error_message.ts";
import { bundledProtoJson, protobuf, setParseFilename } from "./_protobuf_internals.ts";

/** A protobufjs root namespace holding the loaded types and services. */
export type Root = protobuf.Root;

/**
 * Raised when a `.proto` cannot be read or parsed; the message names the file and line.
 *
 * @example
 * ```ts
 * import { parseProto, ProtoError } from "./load_proto.ts";
 * try {
 *   parseProto(`syntax = "proto3"; message M { strin name = 1; }`, "bad.proto");
 *   throw new Error("parsed");
 * } catch (e) {
 *   if (!(e instanceof ProtoError) || !e.message.includes("bad.proto")) throw e;
 * }
 * ```
 */
export class ProtoError extends Error {
  /** The file (path or URL) at fault. */
  readonly file: string;
  /** Creates the error; `message` should name `file` (and the line, when known). */
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ProtoError";
    this.file = file;
  }
}

/** Options of {@linkcode loadProto}. */
export interface LoadProtoOptions {
  /** Directories to look for imported files in, after the importing file's directory and the
   * directories of the files given (like protoc's `-I`). */
  includePaths?: Array<string | URL>;
}

function toUrl(pathOrUrl: string | URL, base?: URL): URL {
  if (pathOrUrl instanceof URL) return pathOrUrl;
  if (/^[a-z][a-z0-9+.-]*:/i.test(pathOrUrl) && !/^[a-z]:[\\/]/i.test(pathOrUrl)) {
    return new URL(pathOrUrl);
  }
  if (base) return new URL(pathOrUrl, base);
  const cwd = Deno.cwd().replace(/\\/g, "/");
  return new URL(pathOrUrl, `file://${cwd.startsWith("/") ? "" : "/"}${cwd}/`);
}

async function readText(url: URL): Promise<string> {
  if (url.protocol === "file:") return await Deno.readTextFile(url);
  const res = await fetch(url);
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status} ${res.statusText}`);
  }
  return await res.text();
}

function displayName(url: URL): string {
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

function parseInto(root: protobuf.Root, text: string, file: string): protobuf.IParserResult {
  setParseFilename(file);
  try {
    return protobuf.parse(text, root, { keepCase: false, alternateCommentMode: true });
  } catch (e) {
    const msg = errorMessage(e);
    throw new ProtoError(file, `Cannot parse proto file ${file}: ${msg}`, { cause: e });
  }
}

/**
 * A copy of bundled well-known types with camelCase field names: protobufjs ships them with the
 * `.proto` names (`type_url`, `number_value`), while files parsed here get camelCase names; the
 * types of a root should not mix the two.
 */
function camelCased(nested: Record<string, protobuf.AnyNestedObject>) {
  const out: Record<string, protobuf.AnyNestedObject> = {};
  for (const [name, obj] of Object.entries(nested)) {
    const o = { ...obj } as {
      fields?: Record<string, unknown>;
      oneofs?: Record<string, { oneof: string[] }>;
      nested?: Record<string, protobuf.AnyNestedObject>;
    };
    if (o.fields) {
      o.fields = Object.fromEntries(
        Object.entries(o.fields).map(([k, v]) => [protobuf.util.camelCase(k), v]),
      );
    }
    if (o.oneofs) {
      o.oneofs = Object.fromEntries(
        Object.entries(o.oneofs).map((
          [k, v],
        ) => [k, { ...v, oneof: v.oneof.map((f) => protobuf.util.camelCase(f)) }]),
      );
    }
    if (o.nested) o.nested = camelCased(o.nested);
    out[name] = o as protobuf.AnyNestedObject;
  }
  return out;
}

/** The `google/protobuf/*.proto` files already added to each root. */
const commonsAdded = new WeakMap<protobuf.Root, Set<string>>();

function addCommon(root: protobuf.Root, name: string, file: string): boolean {
  // google/protobuf/*.proto well-known types ship with protobufjs.
  const json = bundledProtoJson(name);
  if (!json) return false;
  let added = commonsAdded.get(root);
  if (added === undefined) commonsAdded.set(root, added = new Set());
  if (added.has(name)) return true; // imported by an earlier file: its types are there already
  try {
    root.addJSON(camelCased(json.nested ?? {}));
  } catch (e) {
    const msg = errorMessage(e);
    throw new ProtoError(file, `Cannot add "${name}" imported by ${file}: ${msg}`, { cause: e });
  }
  added.add(name);
  return true;
}

/** The file of the first field or method whose types do not resolve. */
function culprit(ns: protobuf.NamespaceBase): string | undefined {
  for (const obj of ns.nestedArray) {
    const parts: protobuf.ReflectionObject[] = obj instanceof protobuf.Type
      ? obj.fieldsArray
      : obj instanceof protobuf.Service
      ? obj.methodsArray
      : [];
    for (const p of parts) {
      try {
        p.resolve();
      } catch {
        return p.filename ?? obj.filename ?? undefined;
      }
    }
    if (obj instanceof protobuf.Namespace) {
      const found = culprit(obj);
      if (found) return found;
    }
  }
  return undefined;
}

function resolveAll(root: protobuf.Root, file: string): protobuf.Root {
  try {
    root.resolveAll();
  } catch (e) {
    const msg = errorMessage(e);
    const where = culprit(root) ?? file;
    throw new ProtoError(where, `Cannot resolve types in ${where}: ${msg}`, { cause: e });
  }
  return root;
}

/**
 * Loads one or more `.proto` files (paths relative to the working directory, `file:` or
 * `http(s):` URLs) and the files they import, into one root. A file imported by several of
 * them (a well-known `google/protobuf/*.proto` included) is loaded once.
 *
 * @throws {ProtoError} naming the file (and line, from the parser) when a file cannot be read,
 * parsed or resolved: every load failure is a `ProtoError`.
 *
 * @example
 * ```ts ignore
 * import { loadProto } from "./mod.ts";
 * const root = await loadProto(new URL("./examples/user/user.proto", import.meta.url));
 * const service = root.lookupService("fixbug.UserServiceRpc");
 * ```
 */
export async function loadProto(
  pathOrUrl: string | URL | Array<string | URL>,
  options: LoadProtoOptions = {},
): Promise<Root> {
  return (await loadProtoSources(pathOrUrl, options)).root;
}

/** One `.proto` file read by {@linkcode loadProtoSources}. */
export interface ProtoSource {
  /** Where it was read from. */
  readonly url: URL;
  /** Its path (or URL), as types' `filename` and error messages name it. */
  readonly file: string;
  /** Its text. */
  readonly text: string;
  /** Its `package`, if it declares one. */
  readonly package: string | undefined;
  /**
   * Its imports, in order: `spec` as written, and the file it was found as (`undefined` for a
   * well-known `google/protobuf/*.proto` bundled with protobufjs).
   */
  readonly imports: Array<{ spec: string; file: string | undefined }>;
}

/**
 * {@linkcode loadProto}, also returning the files read (the ones given first, then their
 * imports in the order they were found).
 */
export async function loadProtoSources(
  pathOrUrl: string | URL | Array<string | URL>,
  options: LoadProtoOptions = {},
): Promise<{ root: Root; sources: ProtoSource[] }> {
  const list = Array.isArray(pathOrUrl) ? pathOrUrl : [pathOrUrl];
  const sources: ProtoSource[] = [];
  try {
    const root = await loadInto(new protobuf.Root(), list, options, sources);
    return { root, sources };
  } catch (e) {
    if (e instanceof ProtoError) throw e;
    const file = list[0] === undefined ? "<none>" : String(list[0]);
    const msg = errorMessage(e);
    throw new ProtoError(file, `Cannot load proto file ${file}: ${msg}`, { cause: e });
  }
}

async function loadInto(
  root: protobuf.Root,
  pathOrUrl: Array<string | URL>,
  options: LoadProtoOptions,
  sources: ProtoSource[],
): Promise<Root> {
  const queue: Array<{ candidates: URL[]; from?: { source: ProtoSource; spec: string } }> =
    pathOrUrl.map((p) => ({ candidates: [toUrl(p)] }));
  const seen = new Set<string>();
  const first = queue[0]?.candidates[0] ? displayName(queue[0].candidates[0]) : "<none>";
  // Like protoc's -I: imports are looked up next to the importing file, then in the directory
  // of each file given, then in `includePaths`.
  const roots = [
    ...queue.map(({ candidates: [u] }) => new URL(".", u)),
    ...(options.includePaths ?? []).map((p) => {
      const u = toUrl(p);
      return u.href.endsWith("/") ? u : new URL(`${u.href}/`);
    }),
  ];
  while (queue.length > 0) {
    const { candidates, from } = queue.shift()!;
    let url = candidates[0]!;
    let text: string | undefined;
    let error: unknown;
    for (const candidate of candidates) {
      if (seen.has(candidate.href)) {
        text = "";
        url = candidate;
        break;
      }
      try {
        text = await readText(candidate);
        url = candidate;
        break;
      } catch (e) {
        error ??= e;
      }
    }
    const file = displayName(url);
    if (text === undefined) {
      const msg = errorMessage(error);
      const where = from === undefined ? "" : ` (imported by ${from.source.file})`;
      throw new ProtoError(file, `Cannot read proto file ${file}${where}: ${msg}`, {
        cause: error,
      });
    }
    from?.source.imports.push({ spec: from.spec, file });
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    const parsed = parseInto(root, text, file);
    const source: ProtoSource = { url, file, text, package: parsed.package, imports: [] };
    sources.push(source);
    for (const imp of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      if (imp.startsWith("google/protobuf/") && addCommon(root, imp, file)) {
        source.imports.push({ spec: imp, file: undefined });
        continue;
      }
      const next = { source, spec: imp };
      if (/^[a-z][a-z0-9+.-]*:/i.test(imp) || imp.startsWith("/")) {
        queue.push({ candidates: [toUrl(imp)], from: next });
        continue;
      }
      const list = [toUrl(imp, url), ...roots.map((r) => toUrl(imp, r))];
      const candidates = list.filter((u, i) => list.findIndex((v) => v.href === u.href) === i);
      queue.push({ candidates, from: next });
    }
  }
  return resolveAll(root, first);
}

/**
 * Parses the texts of several `.proto` files into one root, in order (a file's imports first);
 * imports other than the well-known `google/protobuf/*` types must be among `files`.
 *
 * @throws {ProtoError} naming the file of the first syntax or resolution error.
 */
export function parseProtoFiles(files: ReadonlyArray<{ name: string; text: string }>): Root {
  const root = new protobuf.Root();
  try {
    for (const { name, text } of files) {
      const parsed = parseInto(root, text, name);
      for (const imp of parsed.imports ?? []) {
        if (imp.startsWith("google/protobuf/")) addCommon(root, imp, name);
      }
    }
    return resolveAll(root, files.at(-1)?.name ?? "<none>");
  } catch (e) {
    if (e instanceof ProtoError) throw e;
    const name = files.at(-1)?.name ?? "<none>";
    throw new ProtoError(name, `Cannot load proto text ${name}: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * Parses `.proto` source text into a root (imports other than the well-known
 * `google/protobuf/*` types are not followed: use {@linkcode loadProto} for files).
 *
 * @throws {ProtoError} with the line of the first syntax error.
 *
 * @example
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * const root = parseProto(`syntax = "proto3"; package demo;
 *   message Ping { string text = 1; }
 *   service Echo { rpc Say(Ping) returns (Ping); }`);
 * if (!root.lookupService("demo.Echo").methods["Say"]) throw new Error();
 * ```
 */
export function parseProto(text: string, name = "<string>"): Root {
  try {
    return parseRoot(text, name);
  } catch (e) {
    if (e instanceof ProtoError) throw e;
    const msg = errorMessage(e);
    throw new ProtoError(name, `Cannot load proto text ${name}: ${msg}`, { cause: e });
  }
}

function parseRoot(text: string, name: string): Root {
  const root = new protobuf.Root();
  const parsed = parseInto(root, text, name);
  for (const imp of parsed.imports ?? []) {
    if (!(imp.startsWith("google/protobuf/") && addCommon(root, imp, name))) {
      throw new ProtoError(name, `Cannot resolve import "${imp}" in ${name}: use loadProto()`);
    }
  }
  return resolveAll(root, name);
}
