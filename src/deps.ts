// deno-lint-ignore-file no-import-prefix
/**
 * The one place where third-party packages are pinned.
 *
 * Full `npm:` specifiers are used on purpose instead of bare names from deno.json's import
 * map: users import `mod.ts` by URL, and a module imported by URL does not see its own
 * deno.json, so a bare `"protobufjs"` would fail to resolve for them. The ZooKeeper client is
 * pinned in deps_zookeeper.ts, loaded only when a ZooKeeperRegistry connects, so a program that
 * uses the static registry never needs it.
 *
 * @module
 */
import protobuf from "npm:protobufjs@7.5.4";
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

// loadProto gives the bundled well-known types camelCase field names (`typeUrl`), like the types
// of parsed files; protobufjs's JSON-form wrapper of `google.protobuf.Any` (`{"@type": ...}`)
// writes `type_url`, which the encoder would then skip: let it use whichever name the type has.
const anyWrapper = protobuf.wrappers[".google.protobuf.Any"]!;
const anyFromObject = anyWrapper.fromObject!;
anyWrapper.fromObject = function (this: protobuf.Type, object) {
  const m = anyFromObject.call(this, object) as unknown as Record<string, unknown>;
  if (this.fields.typeUrl && m.type_url !== undefined) {
    m.typeUrl = m.type_url;
    delete m.type_url;
  }
  return m as unknown as protobuf.Message;
};
const anyToObject = anyWrapper.toObject!;
anyWrapper.toObject = function (this: protobuf.Type, message, options) {
  const m = message as unknown as Record<string, unknown>;
  if (options?.json && m.typeUrl && m.value && m.type_url === undefined) {
    // Read by the wrapper under its .proto name.
    const copy = Object.assign(Object.create(Object.getPrototypeOf(m)), m, { type_url: m.typeUrl });
    return anyToObject.call(this, copy, options);
  }
  return anyToObject.call(this, message, options);
};

export { protobuf };
