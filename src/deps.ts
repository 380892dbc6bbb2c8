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

export { protobuf };
