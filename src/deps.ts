// deno-lint-ignore-file no-import-prefix
/**
 * The one place where third-party packages are pinned.
 *
 * Full `npm:` specifiers are used on purpose instead of bare names from deno.json's import
 * map: users import `mod.ts` by URL, and a module imported by URL does not see its own
 * deno.json, so a bare `"protobufjs"` would fail to resolve for them.
 *
 * @module
 */
import protobuf from "npm:protobufjs@7.5.4";
export { default as zookeeper } from "npm:node-zookeeper-client@1.1.3";
export { Buffer } from "node:buffer";

// protobufjs encodes into Node Buffers when it finds one (and Deno provides one), which costs a
// pooled Buffer allocation per message; plain Uint8Arrays are faster here and are what this
// toolkit hands out anyway.
// deno-lint-ignore no-explicit-any
(protobuf.util as any).Buffer = null;
protobuf.configure();

// protobufjs decodes a 64-bit map key into an 8-character binary "hash" string, which its own
// encoder then reads back as a decimal string (every key becomes 0): keys are decimal strings
// here, as 64-bit values are, so decode and encode agree.
// deno-lint-ignore no-explicit-any
const util = protobuf.util as any;
util.longToHash = (value: { toString(): string } | number): string => String(value);
// protobufjs writes a `bool` map key from the object key, so "false" (a non-empty string) was
// written as true.
protobuf.Writer.prototype.bool = function (this: protobuf.Writer, value: unknown) {
  return this.uint32(value && value !== "false" ? 1 : 0);
};

export { protobuf };
