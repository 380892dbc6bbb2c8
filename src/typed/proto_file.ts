/**
 * The `.proto` text a generated module embeds, parsed at first use: generated code needs no file
 * read at run time.
 *
 * @module
 */
import { parseProtoFiles, type Root } from "../schema/load_proto.ts";

/** A `.proto` file embedded in a generated module, with the embedded files it imports. */
export interface ProtoFile {
  /** The file's name (as given to the generator), for error messages. */
  readonly name: string;
  /** The `.proto` text. */
  readonly text: string;
  /** The files it imports (well-known `google/protobuf/*.proto` ones excepted: they are bundled). */
  readonly imports: readonly ProtoFile[];
}

/**
 * An embedded `.proto` file, as generated modules declare theirs. Nothing is parsed until a
 * service of the file is first used.
 *
 * @param name The file's name, for error messages.
 * @param text The `.proto` text.
 * @param imports The embedded files it imports.
 * @returns The file.
 *
 * @example
 * ```ts
 * import { defineService, protoFile } from "../../mod.ts";
 * const file = protoFile("echo.proto", `syntax = "proto3"; package demo;
 *   message Msg { string text = 1; }
 *   service Echo { rpc Say(Msg) returns (Msg); }`);
 * const Echo = defineService(file, "demo.Echo");
 * if (Echo.service.methods["Say"] === undefined) throw new Error();
 * ```
 */
export function protoFile(
  name: string,
  text: string,
  imports: readonly ProtoFile[] = [],
): ProtoFile {
  return Object.freeze({ name, text, imports: Object.freeze([...imports]) });
}

const roots = new WeakMap<ProtoFile, Root>();

/** The (cached) root of `file` and the files it imports, parsed on first use. */
export function protoFileRoot(file: ProtoFile): Root {
  let root = roots.get(file);
  if (root === undefined) {
    // Imports first, each once, so every type a file refers to is there when it resolves.
    const order: ProtoFile[] = [];
    const visit = (f: ProtoFile) => {
      if (order.includes(f)) return;
      for (const i of f.imports) visit(i);
      order.push(f);
    };
    visit(file);
    root = parseProtoFiles(order);
    roots.set(file, root);
  }
  return root;
}
