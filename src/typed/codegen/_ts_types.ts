/**
 * The TypeScript types of `.proto` fields, as the runtime codec produces (receiver) and accepts
 * (sender) them: see `src/schema/type_codec.ts` and `message_check.ts`.
 *
 * @module
 */
import { protobuf } from "../../schema/_protobuf_internals.ts";

/** The namespace generated modules import the toolkit as (`import * as mprpc from ...`). */
export const TOOLKIT = "mprpc";

/** How a reference to a message or enum type is written from the module being generated. */
export type TypeRef = (type: protobuf.Type | protobuf.Enum) => string;

const NUMBER_TYPES = new Set([
  "double",
  "float",
  "int32",
  "uint32",
  "sint32",
  "fixed32",
  "sfixed32",
]);
const LONG_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/** Whether `t` needs parentheses as an array element type. */
function compound(t: string): boolean {
  return t.includes(" ");
}

/** The type of one value of `f` (an element, for a repeated field; a value, for a map). */
function valueType(f: protobuf.Field, ref: TypeRef, init: boolean): string {
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return init ? `${ref(t)}Init` : ref(t);
  if (t instanceof protobuf.Enum) return init ? `${TOOLKIT}.EnumInit<typeof ${ref(t)}>` : ref(t);
  if (NUMBER_TYPES.has(f.type)) return "number";
  if (LONG_TYPES.has(f.type)) return init ? "string | number | bigint" : "string";
  if (f.type === "bool") return "boolean";
  if (f.type === "string") return "string";
  if (f.type === "bytes") return "Uint8Array";
  throw new TypeError(`Field ${f.fullName} has unknown type ${f.type}`);
}

/**
 * The type of field `f` in a receiver's type (`init` false) or a sender's (`init` true), without
 * the `| undefined` of optional fields. `present` is false for a oneof member or proto3
 * `optional` field (absent when unset, not `null` or a default).
 */
export function fieldType(f: protobuf.Field, ref: TypeRef, init: boolean): string {
  f.resolve();
  const v = valueType(f, ref, init);
  if (f.map) return `Record<string, ${v}>`;
  if (f.repeated) {
    if (init) return compound(v) ? `ReadonlyArray<${v}>` : `readonly ${v}[]`;
    return compound(v) ? `Array<${v}>` : `${v}[]`;
  }
  if (f.resolvedType instanceof protobuf.Type) {
    // An absent sub-message arrives as null (outside oneofs); a sender may pass null for absent.
    return init || f.partOf === null ? `${v} | null` : v;
  }
  return v;
}

/** Whether `o` is the synthetic oneof of a proto3 `optional` field (a plain optional field). */
export function isSyntheticOneof(o: protobuf.OneOf): boolean {
  return o.fieldsArray.length === 1 && o.fieldsArray[0]!.options?.["proto3_optional"] === true;
}

/** Whether `f` is a member of a real (non-synthetic) oneof. */
export function inRealOneof(f: protobuf.Field): boolean {
  return f.partOf !== null && !isSyntheticOneof(f.partOf);
}
