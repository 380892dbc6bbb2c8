/**
 * The provider side of one connection of the original C++ mprpc's protocol (see
 * `legacy_codec.ts`), on the same port as the native protocol: the first four bytes decide.
 *
 * Unlike the original, a request may arrive in any number of reads, a malformed or unknown one
 * closes the connection with one log line (instead of hanging or crashing), and a handler error
 * closes the connection without a reply (the legacy protocol has no error channel). Reading a
 * request is bounded in time by the provider's `readTimeoutMs` sweep, which sees a legacy
 * connection as one that has "no frame" until its request is complete.
 *
 * @module
 */
import { errorMessage } from "../util/error_message.ts";
import { protobuf } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { thrownToRpcError } from "../server/_thrown.ts";
import type { Logger } from "../log/logger.ts";
import { type ByteStream, MIN_PROGRESS_BYTES } from "../transport/framed_connection.ts";
import type { DeadlineWheel } from "../util/deadline_wheel.ts";
import {
  LEGACY_CPP_RECV_BYTES,
  LegacyError,
  type LegacyRequest,
  LegacyRequestDecoder,
} from "./legacy_codec.ts";
import { CallContext, type CallStart, type PeerAddress } from "../server/call_context.ts";
import { MeteredCallContext } from "../observe/metered_call_context.ts";
import type { AcceptedConnection } from "../server/accepted_connection.ts";
import type { Route } from "../server/server_connection.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { endpointKey } from "../util/endpoint_key.ts";

/** What a legacy connection needs from its provider. */
export interface LegacyHost {
  readonly logger: Logger;
  readonly wheel: DeadlineWheel;
  readonly maxMessageBytes: number;
  readonly slowCallMs: number;
  /** Finds the route of a service named without package, or explains why there is none. */
  route(serviceName: string, methodName: string): Route | string;
  /** A call started (+1) or ended (-1). */
  callDelta(delta: number): void;
  /** The connection ended. */
  connectionClosed(conn: AcceptedConnection): void;
}

/** Options of {@linkcode LegacyConnection}. */
export interface LegacyConnectionOptions {
  /** Largest legacy header accepted; default 16 KiB. */
  maxHeaderBytes?: number | undefined;
}

type State = "reading" | "calling" | "closed";

/**
 * Re-encodes `bytes` of `type` the way protobuf C++ does in proto3: fields without presence
 * that hold their default value are left out (protobufjs writes them when they were set
 * explicitly, e.g. `success: false`). The bytes differ, the message is the same; this makes
 * our replies byte-identical to the original's.
 */
function canonicalProto3(type: protobuf.Type, bytes: Uint8Array): Uint8Array {
  const m = type.decode(bytes) as unknown as Record<string, unknown>;
  return stripDefaults(type, m) ? type.encode(m).finish() : bytes;
}

function isDefault(v: unknown): boolean {
  if (v === false || v === "" || Object.is(v, 0)) return true;
  if (v instanceof Uint8Array) return v.length === 0;
  if (typeof v === "object" && v !== null && "low" in v && "high" in v) {
    return (v as { low: number }).low === 0 && (v as { high: number }).high === 0;
  }
  return false;
}

/** Deletes default-valued implicit-presence fields; true when anything was deleted. */
function stripDefaults(type: protobuf.Type, m: Record<string, unknown>): boolean {
  let changed = false;
  for (const f of type.fieldsArray) {
    if (!Object.hasOwn(m, f.name)) continue;
    const v = m[f.name];
    if (v === null || v === undefined || f.map) continue;
    const sub = f.resolvedType instanceof protobuf.Type ? f.resolvedType : undefined;
    if (f.repeated) {
      if (sub) {
        for (const el of v as Record<string, unknown>[]) {
          changed = stripDefaults(sub, el) || changed;
        }
      }
    } else if (sub) {
      changed = stripDefaults(sub, v as Record<string, unknown>) || changed;
    } else if (!f.hasPresence && isDefault(v)) {
      delete m[f.name];
      changed = true;
    }
  }
  return changed;
}

const EMPTY = new Uint8Array(0);

/** A legacy request carries no call id, metadata or deadline. */
const NO_IDS_NO_DEADLINE: CallStart = { callId: 0, timeoutMs: 0 };

/** Replies longer than the C++ caller's one `recv` have been warned about, per method. */
const warnedLong = new Set<string>();

/**
 * One accepted connection whose first bytes were not the native magic: serves one legacy call.
 *
 * @example What the legacy protocol does with a sniffed connection
 * ```ts ignore
 * const lc = new LegacyConnection(host, conn, peer, firstBytes);
 * lc.start();
 * ```
 */
export class LegacyConnection implements AcceptedConnection {
  readonly peer: PeerAddress;
  /** `Date.now()` when the connection was accepted. */
  readonly createdAt: number = Date.now();
  /** `Date.now()` of the last bytes received. */
  lastReadAt: number = Date.now();
  /** `Date.now()` of the first byte of an unfinished request or of its last progress, or 0. */
  #progressAt = 0;
  /** Bytes received since `#progressAt`. */
  #progressBytes = 0;
  #host: LegacyHost;
  #conn: ByteStream;
  #decoder: LegacyRequestDecoder;
  #state: State = "reading";
  #initial: Uint8Array;
  #received: number;
  #ctx: CallContext | undefined;
  #readLoop: Promise<void> | undefined;
  #writing: Promise<unknown> | undefined;

  /**
   * Wraps an accepted stream whose first bytes (`initial`) have been read; call
   * {@linkcode LegacyConnection.start} to begin.
   */
  constructor(
    host: LegacyHost,
    conn: ByteStream,
    peer: PeerAddress,
    initial: Uint8Array,
    options: LegacyConnectionOptions = {},
  ) {
    this.#host = host;
    this.#conn = conn;
    this.peer = peer;
    this.#initial = initial;
    this.#received = initial.length;
    if (initial.length > 0) this.#progressAt = this.lastReadAt;
    this.#decoder = new LegacyRequestDecoder({
      maxMessageBytes: host.maxMessageBytes,
      maxHeaderBytes: options.maxHeaderBytes,
    });
  }

  /** 1 while the legacy call runs (it counts for graceful close), else 0. */
  get inflight(): number {
    return this.#state === "calling" ? 1 : 0;
  }

  /** Bytes of an unfinished request held. */
  get partialBytes(): number {
    return this.#decoder.buffered;
  }

  /** `Date.now()` since which an unfinished request has been held, or 0. */
  get partialSince(): number {
    return this.#state === "reading" ? this.#progressAt : 0;
  }

  /** Whether the request is complete (the provider's read-timeout sweep reads this). */
  get gotFrame(): boolean {
    return this.#state === "calling";
  }

  /** Starts reading. */
  start(): void {
    this.#readLoop ??= this.#read();
  }

  /**
   * No new call: a connection with no call running closes now (the protocol has no way to say
   * so). `message` says why (default: the provider is shutting down).
   */
  goAway(_status?: Code, message = "provider is shutting down"): void {
    if (this.#state === "reading") {
      this.#host.logger.debug(`closing legacy connection: ${message}`, {
        peer: endpointKey(this.peer),
      });
      this.#shutdown();
    }
  }

  /** Fails the running call with `reason` and closes without a reply. */
  abortAll(reason: RpcError): void {
    this.#ctx?.abort(reason);
    this.#shutdown();
  }

  /**
   * Closes the socket (a reply being written is finished first). Idempotent. `_error` (why,
   * e.g. the provider's read timeout) has already been logged by whoever passes it.
   */
  async close(_error?: unknown): Promise<void> {
    if (this.#writing !== undefined) await this.#writing;
    this.#shutdown();
    await this.#readLoop;
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    if ((this.#state as State) === "closed") return; // refused before it started
    try {
      const initial = this.#initial;
      this.#initial = EMPTY;
      if (initial.length > 0 && this.#push(initial)) return;
      for (;;) {
        const n = await this.#conn.read(buf);
        if (this.#state === "closed") return;
        if (n === null) {
          this.#onEof();
          return;
        }
        this.lastReadAt = Date.now();
        if (this.#progressAt === 0 || (this.#progressBytes += n) >= MIN_PROGRESS_BYTES) {
          this.#progressAt = this.lastReadAt;
          this.#progressBytes = 0;
        }
        this.#received += n;
        if (this.#push(buf.subarray(0, n))) return;
      }
    } catch (e) {
      if (this.#state === "closed") return;
      if (e instanceof LegacyError) {
        this.#host.logger.warn("closing connection: malformed legacy request", {
          peer: endpointKey(this.peer),
          error: e.message,
        });
      } else {
        // Reset or broken pipe: the caller is gone.
        this.#host.logger.debug("legacy connection error", {
          peer: endpointKey(this.peer),
          error: errorMessage(e),
        });
        this.#ctx?.abort(new RpcError(Code.CANCELLED, "the caller closed the connection"));
      }
      this.#shutdown();
    }
  }

  #onEof(): void {
    if (this.#state === "calling") return; // half-close: the reply can still be written
    if (this.#received === 0) {
      this.#host.logger.debug("connection closed before sending anything", {
        peer: endpointKey(this.peer),
      });
    } else {
      this.#host.logger.warn("closing connection: legacy request truncated", {
        peer: endpointKey(this.peer),
        received: this.#received,
      });
    }
    this.#shutdown();
  }

  /** Decodes `chunk`; true when the connection is closed (no more reading). */
  #push(chunk: Uint8Array): boolean {
    const req = this.#decoder.push(chunk);
    if (req !== undefined) this.#startCall(req);
    return this.#state === "closed";
  }

  #startCall(req: LegacyRequest): void {
    this.#state = "calling";
    const host = this.#host;
    const route = host.route(req.serviceName, req.methodName);
    if (typeof route === "string") {
      host.logger.warn("closing connection: legacy call refused", {
        peer: endpointKey(this.peer),
        reason: route,
      });
      this.#shutdown();
      return;
    }
    const desc = route.desc;
    if (desc.kind !== "unary") {
      // The C++ protocol has one request and one reply per connection, and no status to say
      // UNIMPLEMENTED with: the call is refused by closing, as an unknown method is.
      host.logger.warn("closing connection: legacy call refused", {
        peer: endpointKey(this.peer),
        reason: `${desc.service}.${desc.name} streams (${desc.kind}); ` +
          "the mprpc-legacy protocol has no streams",
      });
      this.#shutdown();
      return;
    }
    let request;
    try {
      request = desc.request.decode(req.args);
    } catch (e) {
      host.logger.warn("closing connection: bad legacy request", {
        peer: endpointKey(this.peer),
        method: `${desc.service}.${desc.name}`,
        error: errorMessage(e),
      });
      this.#shutdown();
      return;
    }
    const site = { peer: this.peer, wheel: host.wheel };
    const ctx = route.metrics === undefined
      ? new CallContext(desc, NO_IDS_NO_DEADLINE, site)
      : new MeteredCallContext(desc, NO_IDS_NO_DEADLINE, site, route.metrics, req.args.length);
    this.#ctx = ctx;
    host.callDelta(1);
    // The call's outcome is handled inside #serve; it never rejects.
    void this.#serve(route, request, ctx);
  }

  async #serve(route: Route, request: unknown, ctx: CallContext): Promise<void> {
    const host = this.#host;
    const desc = route.desc;
    const method = `${desc.service}.${desc.name}`;
    let code = -1; // how the call ended, for metrics (-1: the connection closed under it)
    let sent = 0;
    try {
      let bytes: Uint8Array;
      try {
        const result = await route.handler(request, ctx);
        if (this.#state === "closed") return;
        this.#ctx = undefined; // answered: closing the socket must not abort its signal
        bytes = desc.response.encode((result ?? {}) as Record<string, unknown>);
        bytes = canonicalProto3(desc.response.type, bytes);
        code = Code.OK;
        sent = bytes.length;
      } catch (e) {
        if (this.#state === "closed") return;
        this.#ctx = undefined;
        const err = thrownToRpcError(e);
        code = err.code;
        host.logger.error("legacy call failed, closing without a reply", {
          peer: endpointKey(this.peer),
          method,
          code: err.codeName,
          error: err.message,
          ...(err === e ? {} : { thrown: e }),
        });
        this.#shutdown();
        return;
      }
      const elapsed = Date.now() - ctx.startedAt;
      if (elapsed >= host.slowCallMs) host.logger.warn("slow call", { method, ms: elapsed });
      if (bytes.length > LEGACY_CPP_RECV_BYTES && !warnedLong.has(method)) {
        warnedLong.add(method);
        host.logger.warn(
          "legacy reply longer than a C++ caller reads; it will be truncated there",
          {
            method,
            bytes: bytes.length,
            limit: LEGACY_CPP_RECV_BYTES,
          },
        );
      }
      this.#writing = this.#writeAll(bytes);
      await this.#writing;
      this.#writing = undefined;
      this.#shutdown();
    } finally {
      if (ctx instanceof MeteredCallContext) ctx.done(code, sent);
      ctx.finish();
      host.callDelta(-1);
    }
  }

  /** One write of the whole reply (continued only if the kernel took part of it). */
  async #writeAll(bytes: Uint8Array): Promise<void> {
    try {
      let off = 0;
      while (off < bytes.length && this.#state !== "closed") {
        off += await this.#conn.write(bytes.subarray(off));
      }
    } catch (e) {
      this.#host.logger.debug("legacy reply not delivered", {
        peer: endpointKey(this.peer),
        error: errorMessage(e),
      });
    }
  }

  #shutdown(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (this.#ctx !== undefined && !this.#ctx.aborted) {
      // The call is still running (the connection broke or was closed under it).
      this.#ctx.abort(new RpcError(Code.CANCELLED, "connection closed"));
    }
    closeQuietly(this.#conn);
    this.#host.connectionClosed(this);
  }
}
