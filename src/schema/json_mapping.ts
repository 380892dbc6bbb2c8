/**
 * The protobuf JSON mapping at the edges of the toolkit (the `mprpc` CLI): JSON text in, a
 * message the codecs accept out, and back.
 *
 * Out ({@linkcode toProtoJson}): a decoded message (as `TypeCodec.decode` returns it: lowerCamel
 * names, 64-bit integers as decimal strings, enums by name, defaults filled) with `bytes` as
 * base64, non-finite floats as `"NaN"`/`"Infinity"`/`"-Infinity"`, and absent messages left out.
 * In ({@linkcode fromProtoJson}): field names as in the `.proto` (`user_id`) or lowerCamel
 * (`userId`), `bytes` as base64 (standard or URL-safe), 64-bit and 32-bit integers as numbers or
 * decimal strings, enums by name or number, floats as numbers or those three strings.
 *
 * @module
 */
import { Buffer } from "../deps.ts";
import { protobuf } from "./_protobuf_internals.ts";

const INTEGER_32 = new Set(["int32", "uint32", "sint32", "fixed32", "sfixed32"]);
const FLOATING = new Set(["double", "float"]);

/**
 * A decoded message as protobuf JSON (a plain value `JSON.stringify` prints as the mapping says);
 * with its `type`, fields come in field-number order.
 *
 * @example
 * ```ts
 * import { toProtoJson } from "./json_mapping.ts";
 * const json = toProtoJson({ id: "18446744073709551615", data: new Uint8Array([1, 2]), inner: null });
 * if (JSON.stringify(json) !== '{"id":"18446744073709551615","data":"AQI="}') throw new Error();
 * ```
 */
export function toProtoJson(value: unknown, type?: protobuf.Type): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map((v) => toProtoJson(v, type));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    const o = value as Record<string, unknown>;
    // In field-number order when the type is known (the same whether the type was loaded from
    // its .proto or rebuilt from reflection, which lists map fields last).
    const keys = type === undefined ? Object.keys(o) : [
      ...[...type.fieldsArray].sort((a, b) => a.id - b.id).map((f) => f.name).filter((k) => k in o),
      ...Object.keys(o),
    ];
    for (const k of new Set(keys)) {
      const v = o[k];
      if (v === null || v === undefined) continue;
      const f = type?.fields[k];
      f?.resolve();
      const inner = f?.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
      out[k] = toProtoJson(v, inner);
    }
    return out;
  }
  return value;
}

function fieldOf(type: protobuf.Type, key: string): protobuf.Field | undefined {
  return type.fields[key] ?? type.fields[protobuf.util.camelCase(key)] ??
    type.fieldsArray.find((f) => f.options?.["json_name"] === key);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function scalarIn(f: protobuf.Field, type: string, v: unknown, path: string): unknown {
  if (type === "bytes") {
    if (typeof v !== "string" || !BASE64.test(v)) {
      throw new TypeError(`${path}: expected base64 text for bytes, got ${JSON.stringify(v)}`);
    }
    return new Uint8Array(Buffer.from(v.replace(/-/g, "+").replace(/_/g, "/"), "base64"));
  }
  if (INTEGER_32.has(type) && typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  if (FLOATING.has(type) && typeof v === "string") {
    if (v === "NaN") return NaN;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    if (v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  }
  void f;
  return v;
}

function valueIn(f: protobuf.Field, v: unknown, path: string): unknown {
  if (v === null) return null;
  f.resolve();
  if (f.resolvedType instanceof protobuf.Type) return messageIn(f.resolvedType, v, path);
  if (f.resolvedType instanceof protobuf.Enum) return v;
  return scalarIn(f, f.type, v, path);
}

function messageIn(type: protobuf.Type, json: unknown, path: string): Record<string, unknown> {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(
      `${path || type.name}: expected a JSON object for ${type.fullName.slice(1)}, got ${
        Array.isArray(json) ? "an array" : JSON.stringify(json)
      }`,
    );
  }
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(json)) {
    const f = fieldOf(type, key);
    const at = path === "" ? key : `${path}.${key}`;
    if (f === undefined) {
      throw new TypeError(`${at}: ${type.fullName.slice(1)} has no field "${key}"`);
    }
    if (f instanceof protobuf.MapField && v !== null) {
      if (typeof v !== "object" || Array.isArray(v)) {
        throw new TypeError(`${at}: expected a JSON object for a map`);
      }
      const m: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) m[k] = valueIn(f, x, `${at}["${k}"]`);
      out[f.name] = m;
    } else if (f.repeated && v !== null) {
      if (!Array.isArray(v)) throw new TypeError(`${at}: expected a JSON array`);
      out[f.name] = v.map((x, i) => valueIn(f, x, `${at}[${i}]`));
    } else {
      out[f.name] = valueIn(f, v, at);
    }
  }
  return out;
}

/**
 * A message of `type` from protobuf JSON (already parsed), ready for the type's codec, which
 * checks the values.
 *
 * @throws {TypeError} naming the field path for an unknown field, bad base64 or a value of the
 * wrong JSON shape.
 *
 * @example
 * ```ts
 * import { parseProto } from "./load_proto.ts";
 * import { fromProtoJson } from "./json_mapping.ts";
 * const root = parseProto(`syntax = "proto3"; message M { bytes raw_data = 1; int64 n = 2; }`);
 * const msg = fromProtoJson(root.lookupType("M"), { raw_data: "AQI=", n: "7" });
 * if (!(msg.rawData instanceof Uint8Array) || msg.rawData.length !== 2) throw new Error();
 * ```
 */
export function fromProtoJson(type: protobuf.Type, json: unknown): Record<string, unknown> {
  return messageIn(type, json, "");
}
