/**
 * The wire format of the original C++ mprpc ("legacy" protocol), encoded and decoded by hand.
 * Pure: no sockets, no timers.
 *
 * ```
 * request  = [uint32 little-endian header_size][RpcHeader][args]
 * RpcHeader (proto/mprpc_header.proto):
 *   bytes  service_name = 1;  // descriptor name WITHOUT package, e.g. "UserServiceRpc"
 *   bytes  method_name  = 2;  // e.g. "Login"
 *   uint32 args_size    = 3;  // byte length of args (absent when 0)
 * reply    = the serialized response message, nothing else; the provider then closes
 * ```
 *
 * One call per TCP connection. The native protocol's first four bytes ("MRPC") read as a
 * little-endian header size would be 1,129,337,421, far above any header limit, so both
 * protocols can share a port (see `hasMagic` in `frame.ts`).
 *
 * @module
 */
import { encodeStringField, varintSize, writeVarint } from "../wire/wire_writer.ts";
import { WireReader } from "../wire/wire_reader.ts";

/** Default limit on a legacy request header: 16 KiB (it holds two names and a number). */
export const LEGACY_MAX_HEADER_BYTES = 16 * 1024;

/**
 * The C++ caller reads its reply with a single `recv` of this many bytes: longer replies are
 * truncated on its side (the original's defect 6).
 */
export const LEGACY_CPP_RECV_BYTES = 1024;

/** The decoded `RpcHeader`. */
export interface LegacyHeader {
  /** Service name without package, e.g. `UserServiceRpc`. */
  serviceName: string;
  /** Method name, e.g. `Login`. */
  methodName: string;
  /** Byte length of the serialized request after the header. */
  argsSize: number;
}

/** A complete legacy request. */
export interface LegacyRequest {
  serviceName: string;
  methodName: string;
  /** The serialized request message (a copy, owned by the receiver). */
  args: Uint8Array;
}

/** Why legacy bytes were rejected. */
export type LegacyErrorReason = "BAD_HEADER_SIZE" | "TOO_LARGE" | "BAD_HEADER";

/**
 * Bytes that are not a valid legacy request; the connection must be closed.
 *
 * @example
 * ```ts
 * import { LegacyError, LegacyRequestDecoder } from "./legacy_codec.ts";
 * const d = new LegacyRequestDecoder({ maxMessageBytes: 1024 });
 * try {
 *   d.push(new Uint8Array([0, 0, 0, 0])); // header size 0
 *   throw new Error("accepted");
 * } catch (e) {
 *   if (!(e instanceof LegacyError) || e.reason !== "BAD_HEADER_SIZE") throw e;
 * }
 * ```
 */
export class LegacyError extends Error {
  /** What was wrong. */
  readonly reason: LegacyErrorReason;
  /** Creates an error with a reason and a message saying what was wrong. */
  constructor(reason: LegacyErrorReason, message: string) {
    super(message);
    this.name = "LegacyError";
    this.reason = reason;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The legacy service name: the last segment of the package-qualified name.
 *
 * @example
 * ```ts
 * import { shortServiceName } from "./legacy_codec.ts";
 * if (shortServiceName("fixbug.UserServiceRpc") !== "UserServiceRpc") throw new Error();
 * ```
 */
export function shortServiceName(fullName: string): string {
  const name = fullName.startsWith(".") ? fullName.slice(1) : fullName;
  return name.slice(name.lastIndexOf(".") + 1);
}

function checkSize(what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`${what} must be an integer in 0..4294967295, got ${n}`);
  }
}

/**
 * Encodes requests of one method; the service and method fields are encoded once.
 *
 * @example The original's Login request, byte for byte
 * ```ts
 * import { LegacyRequestEncoder } from "./legacy_codec.ts";
 * const enc = new LegacyRequestEncoder("UserServiceRpc", "Login");
 * const bytes = enc.encode(new Uint8Array(15));
 * if (bytes.length !== 4 + 25 + 15 || bytes[0] !== 25) throw new Error();
 * ```
 */
export class LegacyRequestEncoder {
  /** Pre-encoded fields 1 and 2 of the header. */
  readonly #route: Uint8Array;

  /**
   * Creates the encoder of `serviceName` (without package) / `methodName`.
   *
   * @throws {TypeError} when a name is empty.
   */
  constructor(serviceName: string, methodName: string) {
    if (!serviceName || !methodName) {
      throw new TypeError(
        `A legacy request needs a service and a method name, got ${JSON.stringify(serviceName)}/${
          JSON.stringify(methodName)
        }`,
      );
    }
    const s = encodeStringField(1, serviceName);
    const m = encodeStringField(2, methodName);
    this.#route = new Uint8Array(s.length + m.length);
    this.#route.set(s, 0);
    this.#route.set(m, s.length);
  }

  /** The `RpcHeader` of a request whose args take `argsSize` bytes. */
  header(argsSize: number): Uint8Array {
    checkSize("argsSize", argsSize);
    const route = this.#route;
    const out = new Uint8Array(route.length + (argsSize ? 1 + varintSize(argsSize) : 0));
    out.set(route, 0);
    if (argsSize) writeVarint(out, writeVarint(out, route.length, 0x18), argsSize);
    return out;
  }

  /** The whole request, `[header_size LE][header][args]`, in one array (for one write). */
  encode(args: Uint8Array): Uint8Array {
    const argsSize = args.length;
    checkSize("argsSize", argsSize);
    const route = this.#route;
    const headerSize = route.length + (argsSize ? 1 + varintSize(argsSize) : 0);
    const out = new Uint8Array(4 + headerSize + argsSize);
    new DataView(out.buffer).setUint32(0, headerSize, true);
    out.set(route, 4);
    let p = 4 + route.length;
    if (argsSize) p = writeVarint(out, writeVarint(out, p, 0x18), argsSize);
    out.set(args, p);
    return out;
  }
}

/**
 * Encodes an `RpcHeader`.
 *
 * @example
 * ```ts
 * import { decodeLegacyHeader, encodeLegacyHeader } from "./legacy_codec.ts";
 * const h = { serviceName: "UserServiceRpc", methodName: "Login", argsSize: 15 };
 * const back = decodeLegacyHeader(encodeLegacyHeader(h));
 * if (back.methodName !== "Login" || back.argsSize !== 15) throw new Error();
 * ```
 */
export function encodeLegacyHeader(header: LegacyHeader): Uint8Array {
  return new LegacyRequestEncoder(header.serviceName, header.methodName).header(header.argsSize);
}

/**
 * Encodes a whole legacy request (`[header_size LE][RpcHeader][args]`).
 *
 * @example
 * ```ts
 * import { encodeLegacyRequest } from "./legacy_codec.ts";
 * const bytes = encodeLegacyRequest("UserServiceRpc", "Login", new Uint8Array());
 * if (bytes[0] !== 23) throw new Error(); // no args_size field when 0
 * ```
 */
export function encodeLegacyRequest(
  serviceName: string,
  methodName: string,
  args: Uint8Array,
): Uint8Array {
  return new LegacyRequestEncoder(serviceName, methodName).encode(args);
}

function headerError(message: string): LegacyError {
  return new LegacyError("BAD_HEADER", `${message} in the header`);
}

/**
 * Decodes an `RpcHeader` as protobuf does: unknown fields (and known fields with another wire
 * type) are skipped, the last occurrence of a field wins. Every length and varint is
 * bounds-checked (see `wire_reader.ts`): `args_size` is a `uint32`, so a varint of more than 5
 * bytes or a value over 2^32-1 there is an error, like a length past the end of the header.
 *
 * @throws {LegacyError} `BAD_HEADER` when the bytes are not a protobuf message, a name is not
 * UTF-8, or the service or method name is missing.
 */
export function decodeLegacyHeader(bytes: Uint8Array): LegacyHeader {
  let service: Uint8Array | undefined;
  let method: Uint8Array | undefined;
  let argsSize = 0;
  const end = bytes.length;
  const r = new WireReader(bytes, 0, end, headerError);
  while (r.pos < end) {
    const tag = r.uint32("field tag");
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw headerError(`invalid field tag ${tag}`);
    if (wt === 2 && (field === 1 || field === 2)) {
      const len = r.length(`field ${field}`);
      const value = bytes.subarray(r.pos, r.pos + len);
      r.pos += len;
      if (field === 1) service = value;
      else method = value;
    } else if (wt === 0 && field === 3) {
      argsSize = r.uint32("args_size");
    } else {
      r.skipField(wt, `field ${field}`);
    }
  }
  let serviceName: string;
  let methodName: string;
  try {
    serviceName = service ? utf8.decode(service) : "";
    methodName = method ? utf8.decode(method) : "";
  } catch {
    throw new LegacyError("BAD_HEADER", "service or method name in the header is not UTF-8");
  }
  if (serviceName === "" || methodName === "") {
    throw new LegacyError(
      "BAD_HEADER",
      `header names no ${serviceName === "" ? "service" : "method"}`,
    );
  }
  return { serviceName, methodName, argsSize };
}

/** Options of {@linkcode LegacyRequestDecoder}. */
export interface LegacyRequestDecoderOptions {
  /** Largest `args_size` accepted (the provider's `maxMessageBytes`). */
  maxMessageBytes: number;
  /** Largest header accepted; default {@linkcode LEGACY_MAX_HEADER_BYTES}. */
  maxHeaderBytes?: number | undefined;
}

/**
 * Incremental decoder of one legacy request: feed it the stream in any split (one byte at a
 * time works); it returns the request once complete. The header size and `args_size` are
 * checked before anything they announce is buffered. Bytes after a complete request are
 * ignored (counted in {@linkcode LegacyRequestDecoder.trailing}).
 *
 * @example
 * ```ts
 * import { encodeLegacyRequest, LegacyRequestDecoder } from "./legacy_codec.ts";
 * const bytes = encodeLegacyRequest("UserServiceRpc", "Login", new Uint8Array([8, 1]));
 * const d = new LegacyRequestDecoder({ maxMessageBytes: 1024 });
 * let req;
 * for (const b of bytes) req ??= d.push(new Uint8Array([b]));
 * if (req?.methodName !== "Login" || req.args.length !== 2) throw new Error();
 * ```
 */
export class LegacyRequestDecoder {
  #maxArgs: number;
  #maxHeader: number;
  #size = new Uint8Array(4);
  #sizeFill = 0;
  #header: Uint8Array | undefined;
  #headerFill = 0;
  #parsed: LegacyHeader | undefined;
  #args: Uint8Array | undefined;
  #argsFill = 0;
  #done = false;
  /** Bytes received after the request was complete. */
  trailing = 0;

  /** Creates a decoder with the given limits. */
  constructor(options: LegacyRequestDecoderOptions) {
    this.#maxArgs = options.maxMessageBytes;
    this.#maxHeader = options.maxHeaderBytes ?? LEGACY_MAX_HEADER_BYTES;
  }

  /** Bytes of the unfinished request held. */
  get buffered(): number {
    return this.#done ? 0 : this.#sizeFill + this.#headerFill + this.#argsFill;
  }

  /**
   * Consumes `chunk`; returns the request when this chunk completed it, else `undefined`.
   *
   * @throws {LegacyError} when the bytes are invalid; the decoder must not be used again.
   */
  push(chunk: Uint8Array): LegacyRequest | undefined {
    if (this.#done) {
      this.trailing += chunk.length;
      return undefined;
    }
    let pos = 0;
    const n = chunk.length;
    if (this.#sizeFill < 4) {
      const take = Math.min(4 - this.#sizeFill, n);
      this.#size.set(chunk.subarray(0, take), this.#sizeFill);
      this.#sizeFill += take;
      pos = take;
      if (this.#sizeFill < 4) return undefined;
      const size = new DataView(this.#size.buffer).getUint32(0, true);
      if (size === 0 || size > this.#maxHeader) {
        throw new LegacyError(
          "BAD_HEADER_SIZE",
          `legacy header size ${size} is out of range 1..${this.#maxHeader}`,
        );
      }
      this.#header = new Uint8Array(size);
    }
    if (this.#parsed === undefined) {
      const header = this.#header!;
      const take = Math.min(header.length - this.#headerFill, n - pos);
      header.set(chunk.subarray(pos, pos + take), this.#headerFill);
      this.#headerFill += take;
      pos += take;
      if (this.#headerFill < header.length) return undefined;
      const parsed = decodeLegacyHeader(header);
      if (parsed.argsSize > this.#maxArgs) {
        throw new LegacyError(
          "TOO_LARGE",
          `legacy args_size ${parsed.argsSize} of ${parsed.serviceName}.${parsed.methodName} exceeds maxMessageBytes ${this.#maxArgs}`,
        );
      }
      this.#parsed = parsed;
      this.#args = new Uint8Array(parsed.argsSize);
    }
    const args = this.#args!;
    const take = Math.min(args.length - this.#argsFill, n - pos);
    args.set(chunk.subarray(pos, pos + take), this.#argsFill);
    this.#argsFill += take;
    pos += take;
    if (this.#argsFill < args.length) return undefined;
    this.#done = true;
    this.trailing += n - pos;
    const { serviceName, methodName } = this.#parsed;
    return { serviceName, methodName, args };
  }
}
