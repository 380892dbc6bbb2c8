/**
 * The `.proto` names of the scalar field types, by their `FieldDescriptorProto.Type` number.
 *
 * @module
 */

/** `.proto` scalar type names by descriptor type number (`9` is `string`). */
export const SCALAR_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: "double",
  2: "float",
  3: "int64",
  4: "uint64",
  5: "int32",
  6: "fixed64",
  7: "fixed32",
  8: "bool",
  9: "string",
  12: "bytes",
  13: "uint32",
  15: "sfixed32",
  16: "sfixed64",
  17: "sint32",
  18: "sint64",
};
