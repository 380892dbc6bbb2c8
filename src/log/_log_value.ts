/**
 * How a log field's value is written (private to src/log/): any JavaScript value becomes text,
 * and nothing a caller passes can make a log call throw.
 *
 * Plain values take a fast path: strings and numbers are written directly, plain JSON data by
 * `JSON.stringify` (with a small replacer for bigints, NaN and Dates). Anything else, or anything
 * that makes the fast path throw (a cycle, a throwing getter or `toJSON`, a revoked proxy), goes
 * through a careful renderer that reads every property in a `try`:
 *
 * - bigint: its decimal digits (`12345678901234567890`, unquoted also inside JSON);
 * - NaN / ±Infinity: `NaN`, `Infinity`, `-Infinity`; undefined: `undefined`;
 * - symbols: `Symbol(desc)`; functions: `[Function: name]`;
 * - Errors: `{"name","message",...own fields,"cause","errors","stack"}`, recursively;
 * - Map: an object of its entries; Set: an array; typed arrays: arrays of numbers;
 *   ArrayBuffer / DataView: `[ArrayBuffer 16 bytes]`; Date: ISO text (`Invalid Date`);
 * - a reference back to an enclosing object: `[Circular]`; deeper than 32 levels or past
 *   10,000 values: `[Truncated]`; a value that throws when read: `[Unreadable: TypeError: …]`.
 *
 * @module
 */

import type { LogFields } from "./log_fields.ts";

/** Nesting depth past which the careful renderer writes `[Truncated]`. */
const DEFAULT_MAX_DEPTH = 32;
/** Values the careful renderer writes for one field before it writes `[Truncated]`. */
const DEFAULT_MAX_VALUES = 10_000;

const NEEDS_CARE: unique symbol = Symbol("needs the careful renderer");

/** `JSON.rawJSON` where the engine has it (V8 11.4+): lets a bigint be written as bare digits. */
const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

function bigintJson(v: bigint): unknown {
  const digits = v.toString();
  return rawJSON === undefined ? digits : rawJSON(digits);
}

/** The fast path's replacer: lets plain data through, sends anything else to the careful path. */
function fastReplacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return bigintJson(value);
    case "object": {
      if (value === null) {
        if (this[key] instanceof Date) throw NEEDS_CARE; // an invalid Date's toJSON() gives null
        return value;
      }
      if (Array.isArray(value)) return value;
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) return value;
      throw NEEDS_CARE;
    }
    default: // undefined, symbol, function
      throw NEEDS_CARE;
  }
}

/** Whether `v` holds only what `JSON.stringify` writes faithfully (then no replacer is needed). */
function isPlainJson(v: object, depth: number): boolean {
  if (depth > 8) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (!plainLeaf(x) && !(typeof x === "object" && x !== null && isPlainJson(x, depth + 1))) {
        return false;
      }
    }
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k in v) {
    const x: unknown = (v as Record<string, unknown>)[k];
    if (!plainLeaf(x) && !(typeof x === "object" && x !== null && isPlainJson(x, depth + 1))) {
      return false;
    }
  }
  return true;
}

function plainLeaf(x: unknown): boolean {
  return typeof x === "string" || typeof x === "boolean" || x === null ||
    (typeof x === "number" && Number.isFinite(x));
}

function treeReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? bigintJson(value) : value;
}

/** Text of something thrown while reading a value (which may itself be hostile). */
function describeThrown(err: unknown): string {
  try {
    if (err instanceof Error) return `${String(err.name)}: ${String(err.message)}`;
    return typeof err === "symbol" ? String(err) : `${String(err)}`;
  } catch {
    return "unknown";
  }
}

/** What is written for a value whose reading threw `err`: `[Unreadable: TypeError: …]`. */
export function unreadable(err: unknown): string {
  return `[Unreadable: ${describeThrown(err)}]`;
}

function describeFunction(fn: unknown): string {
  try {
    const name = (fn as { name?: unknown }).name;
    return typeof name === "string" && name !== ""
      ? `[Function: ${name}]`
      : "[Function (anonymous)]";
  } catch {
    return "[Function]";
  }
}

/** Whether a string can be written bare after `key=` (else it is JSON-quoted). */
function quoted(s: string): string {
  return /[\s"=]/.test(s) || s === "" ? JSON.stringify(s) : s;
}

/** The careful renderer: a copy of `v` made of JSON values and bigints only (structured-cloneable). */
class TreeWalker {
  #ancestors: object[] = [];
  #left = DEFAULT_MAX_VALUES;

  walk(v: unknown): unknown {
    this.#left--;
    try {
      switch (typeof v) {
        case "string":
        case "boolean":
        case "bigint":
          return v;
        case "number":
          return Number.isFinite(v) ? v : String(v);
        case "undefined":
          return "undefined";
        case "symbol":
          return String(v);
        case "function":
          return describeFunction(v);
      }
      if (v === null) return null;
      const o = v as object;
      if (this.#ancestors.includes(o)) return "[Circular]";
      if (this.#ancestors.length >= DEFAULT_MAX_DEPTH || this.#left < 0) return "[Truncated]";
      this.#ancestors.push(o);
      try {
        return this.#object(o);
      } finally {
        this.#ancestors.pop();
      }
    } catch (err) {
      return unreadable(err);
    }
  }

  /** Reads `o[key]` and walks it; a throwing getter becomes `[Unreadable: ...]`. */
  #prop(o: object, key: PropertyKey): unknown {
    let v: unknown;
    try {
      v = (o as Record<PropertyKey, unknown>)[key];
    } catch (err) {
      return unreadable(err);
    }
    return this.walk(v);
  }

  /** Whether the value budget is spent (a collection then ends with `[Truncated]`). */
  get #spent(): boolean {
    return this.#left <= 0;
  }

  #object(o: object): unknown {
    if (Array.isArray(o)) {
      const out: unknown[] = [];
      for (let i = 0; i < o.length; i++) {
        if (this.#spent) {
          out.push("[Truncated]");
          break;
        }
        out.push(this.#prop(o, i));
      }
      return out;
    }
    if (o instanceof Error) return this.#error(o);
    if (o instanceof Date) {
      const t = o.getTime();
      return Number.isNaN(t) ? "Invalid Date" : o.toISOString();
    }
    if (ArrayBuffer.isView(o)) {
      if (o instanceof DataView) return `[DataView ${o.byteLength} bytes]`;
      const out: unknown[] = [];
      for (const x of o as unknown as Iterable<number | bigint>) {
        if (this.#left-- <= 0) {
          out.push("[Truncated]");
          break;
        }
        out.push(typeof x === "number" && !Number.isFinite(x) ? String(x) : x);
      }
      return out;
    }
    if (o instanceof ArrayBuffer || o instanceof SharedArrayBuffer) {
      return `[${o.constructor.name} ${o.byteLength} bytes]`;
    }
    if (o instanceof Map) {
      const out: Record<string, unknown> = Object.create(null);
      for (const [k, x] of o) {
        if (this.#spent) {
          out["[Truncated]"] = "[Truncated]";
          break;
        }
        out[typeof k === "string" ? k : formatValue(k)] = this.walk(x);
      }
      return out;
    }
    if (o instanceof Set) {
      const out: unknown[] = [];
      for (const x of o) {
        if (this.#spent) {
          out.push("[Truncated]");
          break;
        }
        out.push(this.walk(x));
      }
      return out;
    }
    if (o instanceof RegExp) return String(o);
    if (o instanceof Number || o instanceof String || o instanceof Boolean) {
      return this.walk(o.valueOf());
    }
    if (typeof (o as { toJSON?: unknown }).toJSON === "function") {
      return this.walk((o as { toJSON(): unknown }).toJSON());
    }
    const keys = Object.keys(o);
    if (keys.length === 0) {
      const proto = Object.getPrototypeOf(o);
      const name = proto === null ? undefined : proto.constructor?.name;
      if (typeof name === "string" && name !== "" && name !== "Object") return `[${name}]`;
    }
    const out: Record<string, unknown> = Object.create(null);
    for (const k of keys) {
      if (this.#spent) {
        out["[Truncated]"] = "[Truncated]";
        break;
      }
      out[k] = this.#prop(o, k);
    }
    return out;
  }

  #error(e: Error): unknown {
    const out: Record<string, unknown> = Object.create(null);
    out.name = this.#prop(e, "name");
    out.message = this.#prop(e, "message");
    for (const k of Object.keys(e)) {
      if (k !== "name" && k !== "message" && k !== "stack" && k !== "cause" && k !== "errors") {
        out[k] = this.#prop(e, k);
      }
    }
    if ("cause" in e) out.cause = this.#prop(e, "cause");
    if (e instanceof AggregateError || Array.isArray((e as { errors?: unknown }).errors)) {
      out.errors = this.#prop(e, "errors");
    }
    const stack = this.#prop(e, "stack");
    if (stack !== "undefined") out.stack = stack;
    return out;
  }
}

/**
 * A structured-cloneable, JSON-safe copy of `v` (bigints stay bigints), as the careful renderer
 * sees it. Never throws.
 */
export function toLogValue(v: unknown): unknown {
  return new TreeWalker().walk(v);
}

/**
 * The text written after `key=` for a field value. Strings with spaces, quotes or `=` (and the
 * empty string) are JSON-quoted; objects are JSON. Never throws.
 *
 * @example
 * ```ts
 * import { formatValue } from "./_log_value.ts";
 * formatValue(12345678901234567890n); // "12345678901234567890"
 * const a: unknown[] = [1];
 * a.push(a);
 * formatValue(a); // '[1,"[Circular]"]'
 * ```
 */
export function formatValue(v: unknown): string {
  return render(v, quoted);
}

/**
 * The text of a log message given as something else than a string (by JavaScript callers):
 * as {@linkcode formatValue}, without quotes. Never throws.
 */
export function formatText(v: unknown): string {
  return render(v, (s) => s);
}

function render(v: unknown, text: (s: string) => string): string {
  switch (typeof v) {
    case "string":
      return text(v);
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(v);
    case "symbol":
      return text(String(v));
    case "function":
      return text(describeFunction(v));
  }
  if (v === null) return "null";
  try {
    if (isPlainJson(v as object, 0)) return JSON.stringify(v);
    return JSON.stringify(v, fastReplacer);
  } catch {
    // A value the fast path cannot write (or that threw): the careful renderer below.
  }
  const tree = toLogValue(v);
  return typeof tree === "string" ? text(tree) : JSON.stringify(tree, treeReplacer);
}

/**
 * A copy of `fields` that can cross `postMessage` (structured clone) and renders to the same text:
 * strings, numbers, booleans, bigints, null and undefined are kept; anything else is replaced by
 * {@linkcode toLogValue}'s copy. Never throws.
 *
 * @example
 * ```ts
 * import { cloneableFields } from "./_log_value.ts";
 * const f = cloneableFields({ id: 1n, fn: () => 1, err: new Error("boom") });
 * structuredClone(f); // does not throw
 * ```
 */
export function cloneableFields(fields: LogFields): LogFields {
  fields = asFields(fields) ?? {};
  const out: LogFields = Object.create(null);
  let keys: string[];
  try {
    keys = Object.keys(fields);
  } catch (err) {
    return { fields: unreadable(err) };
  }
  for (const k of keys) {
    let v: unknown;
    try {
      v = fields[k];
    } catch (err) {
      v = unreadable(err);
    }
    switch (typeof v) {
      case "string":
      case "number":
      case "boolean":
      case "bigint":
      case "undefined":
        out[k] = v;
        break;
      default: // symbols, functions and objects
        out[k] = v === null ? null : toLogValue(v);
    }
  }
  return out;
}

/**
 * `fields` as a fields object: a plain object as it is; anything else a JavaScript caller passes
 * in its place (`log.info("id", 12345678901234567890n)`, `log.error("failed", err)`, a string, an
 * array) becomes one field, `error` for an Error and `value` otherwise, so it is written instead
 * of lost or spread into one field per character.
 */
export function asFields(fields: unknown): LogFields | undefined {
  if (fields === undefined || fields === null) return undefined;
  if (typeof fields === "object") {
    let proto: unknown;
    try {
      proto = Object.getPrototypeOf(fields);
    } catch {
      return { fields }; // a revoked proxy: written as one unreadable value
    }
    if (proto === Object.prototype || proto === null) return fields as LogFields;
    if (fields instanceof Error) return { error: fields };
  }
  return { value: fields };
}
