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
import { protobuf } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { renderThrown, thrownToRpcError } from "../server/_thrown.ts";
import type { Logger } from "../log/logger.ts";
import { type ByteStream, MIN_PROGRESS_BYTES } from "../transport/framed_connection.ts";
import type { DeadlineWheel } from "../util/deadline_wheel.ts";
import { hasMagic } from "../wire/frame.ts";
import {
  LEGACY_CPP_RECV_BYTES,
  LegacyError,
  type LegacyRequest,
  LegacyRequestDecoder,
  shortServiceName,
} from "./legacy_codec.ts";
import { CallContext, type PeerAddress } from "../server/call_context.ts";
import { peerText, type Route } from "../server/server_connection.ts";

/** What a legacy connection needs from its provider. */
export interface LegacyHost {
  readonly logger: Logger;
  readonly wheel: DeadlineWheel;
  readonly maxMessageBytes: number;
  readonly slowCallMs: number;
  /** Open connections, this one included. */
  readonly connectionCount: number;
  /** Finds the route of a service named without package, or explains why there is none. */
  legacyRoute(serviceName: string, methodName: string): Route | string;
  /** A call started (+1) or ended (-1). */
  callDelta(delta: number): void;
  /** The connection ended. */
  connectionClosed(conn: LegacyConnection): void;
  /** The first bytes were the native magic: serve `conn` natively, starting with `initial`. */
  handOff(from: LegacyConnection, conn: ByteStream, initial: Uint8Array): void;
}

/** Options of {@linkcode LegacyConnection}. */
export interface LegacyConnectionOptions {
  /** Largest legacy header accepted; default 16 KiB. */
  maxHeaderBytes?: number | undefined;
  /** Refuse the legacy call when more connections than this are open. */
  maxConnections?: number | undefined;
}

type State = "sniffing" | "reading" | "calling" | "closed";

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

/** Replies longer than the C++ caller's one `recv` have been warned about, per method. */
const warnedLong = new Set<string>();

/**
 * Builds the map from a service's name without package to its full name, warning when two
 * services share a short name (the first one added keeps it).
 *
 * @example
 * ```ts
 * import { legacyServiceNames } from "./legacy_connection.ts";
 * import { ConsoleLogger } from "../log/logger.ts";
 * const names = legacyServiceNames(["fixbug.UserServiceRpc"], new ConsoleLogger());
 * if (names.get("UserServiceRpc") !== "fixbug.UserServiceRpc") throw new Error();
 * ```
 */
export function legacyServiceNames(
  services: Iterable<string>,
  logger: Logger,
): Map<string, string> {
  const names = new Map<string, string>();
  for (const full of services) {
    const short = shortServiceName(full);
    const taken = names.get(short);
    if (taken !== undefined) {
      logger.warn("legacy protocol: two services share a name without package", {
        name: short,
        served: taken,
        unreachable: full,
      });
      continue;
    }
    names.set(short, full);
  }
  return names;
}

/**
 * One accepted connection of a provider with `legacy: true`: sniffs the first four bytes,
 * hands native connections back to the provider, and serves one legacy call on the others.
 *
 * @example What the provider does with each accepted connection
 * ```ts ignore
 * const lc = new LegacyConnection(provider, conn, peer, { maxConnections: 1000 });
 * connections.add(lc);
 * lc.start(); // -> provider.handOff(lc, conn, firstBytes) when the bytes are "MRPC"
 * ```
 */
export class LegacyConnection {
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
  #options: LegacyConnectionOptions;
  #decoder: LegacyRequestDecoder;
  #state: State = "sniffing";
  #received = 0;
  #handedOff = false;
  #ctx: CallContext | undefined;
  #readLoop: Promise<void> | undefined;
  #writing: Promise<unknown> | undefined;

  /** Wraps an accepted stream; call {@linkcode LegacyConnection.start} to begin. */
  constructor(
    host: LegacyHost,
    conn: ByteStream,
    peer: PeerAddress,
    options: LegacyConnectionOptions = {},
  ) {
    this.#host = host;
    this.#conn = conn;
    this.peer = peer;
    this.#options = options;
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
    return this.#state === "sniffing" || this.#state === "reading" ? this.#progressAt : 0;
  }

  /** Whether the request is complete (the provider's read-timeout sweep reads this). */
  get gotFrame(): boolean {
    return this.#state === "calling";
  }

  /** Starts sniffing and reading. */
  start(): void {
    this.#readLoop ??= this.#read();
  }

  /** The provider is shutting down: a connection with no call running closes now. */
  goAway(): void {
    if (this.#state === "sniffing" || this.#state === "reading") {
      this.#host.logger.debug("closing legacy connection: provider is shutting down", {
        peer: peerText(this.peer),
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
    let head: Uint8Array | undefined;
    try {
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
        let chunk: Uint8Array = buf.subarray(0, n);
        if (this.#state === "sniffing") {
          if (head === undefined) head = chunk.slice();
          else {
            const both = new Uint8Array(head.length + n);
            both.set(head, 0);
            both.set(chunk, head.length);
            head = both;
          }
          if (head.length < 4) continue;
          if (hasMagic(head)) {
            this.#handOffNative(head);
            return;
          }
          if (!this.#admit()) return;
          this.#state = "reading";
          chunk = head;
          head = undefined;
        }
        const req = this.#decoder.push(chunk);
        if (req !== undefined) {
          this.#startCall(req);
          if ((this.#state as State) === "closed") return;
        }
      }
    } catch (e) {
      if (this.#state === "closed") return;
      if (e instanceof LegacyError) {
        this.#host.logger.warn("closing connection: malformed legacy request", {
          peer: peerText(this.peer),
          error: e.message,
        });
      } else {
        // Reset or broken pipe: the caller is gone.
        this.#host.logger.debug("legacy connection error", {
          peer: peerText(this.peer),
          error: e instanceof Error ? e.message : String(e),
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
        peer: peerText(this.peer),
      });
    } else {
      this.#host.logger.warn("closing connection: legacy request truncated", {
        peer: peerText(this.peer),
        received: this.#received,
      });
    }
    this.#shutdown();
  }

  #admit(): boolean {
    const max = this.#options.maxConnections;
    if (max !== undefined && this.#host.connectionCount > max) {
      this.#host.logger.warn("connection refused: too many connections", {
        peer: peerText(this.peer),
        limit: max,
      });
      this.#shutdown();
      return false;
    }
    return true;
  }

  #handOffNative(initial: Uint8Array): void {
    this.#handedOff = true;
    this.#state = "closed";
    this.#host.handOff(this, this.#conn, initial);
  }

  #startCall(req: LegacyRequest): void {
    this.#state = "calling";
    const host = this.#host;
    const route = host.legacyRoute(req.serviceName, req.methodName);
    if (typeof route === "string") {
      host.logger.warn("closing connection: legacy call refused", {
        peer: peerText(this.peer),
        reason: route,
      });
      this.#shutdown();
      return;
    }
    const desc = route.desc;
    let request;
    try {
      request = desc.request.decode(req.args);
    } catch (e) {
      host.logger.warn("closing connection: bad legacy request", {
        peer: peerText(this.peer),
        method: `${desc.service}.${desc.name}`,
        error: e instanceof Error ? e.message : String(e),
      });
      this.#shutdown();
      return;
    }
    const ctx = new CallContext(
      desc.service,
      desc.name,
      0,
      undefined,
      0,
      this.peer,
      host.wheel,
      Date.now(),
    );
    this.#ctx = ctx;
    host.callDelta(1);
    // The call's outcome is handled inside #serve; it never rejects.
    void this.#serve(route, request, ctx);
  }

  async #serve(route: Route, request: unknown, ctx: CallContext): Promise<void> {
    const host = this.#host;
    const desc = route.desc;
    const method = `${desc.service}.${desc.name}`;
    try {
      let bytes: Uint8Array;
      try {
        const result = await route.handler(request, ctx);
        if (this.#state === "closed") return;
        this.#ctx = undefined; // answered: closing the socket must not abort its signal
        bytes = desc.response.encode((result ?? {}) as Record<string, unknown>);
        bytes = canonicalProto3(desc.response.type, bytes);
      } catch (e) {
        if (this.#state === "closed") return;
        this.#ctx = undefined;
        const err = thrownToRpcError(e);
        host.logger.error("legacy call failed, closing without a reply", {
          peer: peerText(this.peer),
          method,
          code: err.codeName,
          error: err.message,
          ...(err === e ? {} : { thrown: renderThrown(e) }),
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
        peer: peerText(this.peer),
        error: e instanceof Error ? e.message : String(e),
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
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or the runtime.
    }
    if (!this.#handedOff) this.#host.connectionClosed(this);
  }
}
