/**
 * The provider side of one native-protocol connection: dispatches requests to handlers,
 * tracks calls in flight, answers pings and cancels.
 *
 * @module
 */
import { errorMessage } from "../util/error_message.ts";
import { Code, codeName, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { ByteStream } from "../transport/framed_connection.ts";
import { FramedConnection } from "../transport/framed_connection.ts";
import type { ReceiveLease } from "../transport/receive_buffers.ts";
import type { MethodDescriptor } from "../schema/method_descriptor.ts";
import { Kind, type RpcMeta } from "../wire/meta.ts";
import { FrameError } from "../wire/frame.ts";
import type { EncodedPayload } from "../wire/frame_writer.ts";
import type { DeadlineWheel } from "../util/deadline_wheel.ts";
import { CallContext, type CallSite, type PeerAddress } from "./call_context.ts";
import { thrownToRpcError } from "./_thrown.ts";
import type { AcceptedConnection } from "./accepted_connection.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import { ServerStream, type StreamOwner } from "./stream_dispatch.ts";
import { DEFAULT_MAX_STREAMS_PER_CONNECTION } from "../defaults.ts";
import type { MethodMetrics } from "../observe/method_metrics.ts";
import { MeteredCallContext } from "../observe/metered_call_context.ts";
import { serverStreamRecord } from "../observe/stream_record.ts";

/** A handler: `(request, ctx) => response | Promise<response>`. */
// deno-lint-ignore no-explicit-any
export type Handler = (request: any, ctx: CallContext) => unknown;

/** A registered method: its descriptor and handler. */
export interface Route {
  desc: MethodDescriptor;
  handler: Handler;
  /** Served even after GOAWAY, while the provider drains (health checks). */
  duringDrain?: boolean;
  /** The method's counters, when the provider keeps metrics. */
  metrics?: MethodMetrics | undefined;
  /**
   * Unary requests' `bytes` fields are views into the receive buffer, lent to the handler until
   * its result settles (`lendRequestBytes`).
   */
  lend: boolean;
}

/** What a connection needs from its provider. */
export interface ServerHost {
  readonly logger: Logger;
  readonly wheel: DeadlineWheel;
  readonly maxMessageBytes: number;
  readonly maxInflightPerConnection: number;
  readonly slowCallMs: number;
  /** Queued output above which reading from a connection pauses (backpressure); default never. */
  readonly maxUnsentBytes?: number;
  /** Streaming calls open at once on one connection; default 1000. */
  readonly maxStreamsPerConnection?: number;
  /** Finds the route of `service`/`method`, or explains why there is none. */
  route(service: string, method: string): Route | string;
  /** A call started (+1) or ended (-1). */
  callDelta(delta: number): void;
  /** The connection ended. */
  connectionClosed(conn: AcceptedConnection): void;
}

/** The provider side of one connection. */
export class ServerConnection implements AcceptedConnection {
  readonly peer: PeerAddress;
  #host: ServerHost;
  #fc: FramedConnection;
  /** Where this connection's calls are served. */
  #site: CallSite;
  #inflight = new Map<number, CallContext>();
  #draining = false;
  /** Id of the last request accepted (answered or running), for GOAWAY. */
  #lastCallId = 0;
  /** Streaming calls (also in `#inflight`), for their stream frames; made on the first. */
  #streams: Map<number, ServerStream> | undefined;
  #streamOwner: StreamOwner | undefined;

  /** Wraps an accepted stream; `initial` holds bytes already read while sniffing. */
  constructor(
    host: ServerHost,
    conn: ByteStream,
    peer: PeerAddress,
    initial?: Uint8Array,
  ) {
    this.#host = host;
    this.peer = peer;
    this.#site = { peer, wheel: host.wheel };
    this.#fc = new FramedConnection(conn, {
      maxMessageBytes: host.maxMessageBytes,
      initial,
      maxUnsentBytes: host.maxUnsentBytes,
      onFrame: (meta, payload, owned) => this.#onFrame(meta, payload, owned),
      onOversize: (meta, bodyLength) => this.#onOversize(meta, bodyLength),
      onClose: (err) => this.#onClose(err),
    });
  }

  /** Calls being served on this connection. */
  get inflight(): number {
    return this.#inflight.size;
  }

  /** `Date.now()` of the last bytes received. */
  get lastReadAt(): number {
    return this.#fc.lastReadAt;
  }

  /** Bytes of an unfinished frame held. */
  get partialBytes(): number {
    return this.#fc.partialBytes;
  }

  /** `Date.now()` since which an unfinished frame has been held, or 0. */
  get partialSince(): number {
    return this.#fc.partialSince;
  }

  /** Bytes of answers queued that the caller has not read yet (as far as the socket knows). */
  get unsentBytes(): number {
    return this.#fc.unsentBytes;
  }

  /** Whether reading is paused until the caller reads the answers queued for it. */
  get readPaused(): boolean {
    return this.#fc.readPaused;
  }

  /** Whether any frame has arrived. */
  get gotFrame(): boolean {
    return this.#fc.frames > 0;
  }

  /** `Date.now()` when the connection was accepted. */
  readonly createdAt: number = Date.now();

  /** Starts reading. */
  start(): void {
    this.#fc.start();
  }

  /** True once GOAWAY was sent: no new call is accepted. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Tells the caller to send no new calls here (GOAWAY, carrying the last call id accepted);
   * later requests are answered `UNAVAILABLE` marked "not started", so the caller sends them
   * again elsewhere. With a `status`, the caller fails its calls on this connection with it.
   * Idempotent.
   */
  goAway(status = 0, message = ""): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#fc.send({
      kind: Kind.GOAWAY,
      callId: 0,
      status,
      errorMessage: message,
      lastCallId: this.#lastCallId,
      notStarted: true,
    });
  }

  /**
   * Closes an idle connection without failing a call that crosses the close: GOAWAY with the
   * last call id accepted, then a graceful close (see {@linkcode ServerConnection.close}).
   */
  closeIdle(): Promise<void> {
    this.goAway();
    return this.close();
  }

  /** Fails every call in flight with `reason` (answering the caller) and forgets them. */
  abortAll(reason: RpcError): void {
    for (const ctx of [...this.#inflight.values()]) {
      ctx.abort(reason);
      // A stream answers its own abort (and leaves the map).
      if (this.#inflight.delete(ctx.callId)) this.#sendError(ctx.callId, reason);
    }
  }

  /**
   * Closes. Without `error`, gracefully: writes what is queued, half-closes and lets the caller
   * close its side (up to {@linkcode DEFAULT_LINGER_MS}), so frames it has not read yet (the
   * GOAWAY above all) are not lost to a reset. Requests arriving meanwhile are dropped; the
   * GOAWAY told the caller they never started.
   */
  async close(error?: unknown): Promise<void> {
    if (error === undefined) await this.#fc.finish(DEFAULT_LINGER_MS);
    else await this.#fc.close(error);
  }

  #onFrame(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    switch (meta.kind) {
      case Kind.REQUEST:
        this.#onRequest(meta, payload, owned);
        return;
      case Kind.CANCEL: {
        const ctx = this.#inflight.get(meta.callId);
        if (ctx !== undefined) {
          this.#inflight.delete(meta.callId);
          ctx.abort(
            meta.status === Code.DEADLINE_EXCEEDED
              ? new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded")
              : new RpcError(Code.CANCELLED, "cancelled by the caller"),
          );
        }
        return;
      }
      case Kind.PING:
        // The caller's limit arrives with its handshake PING; the PONG carries ours.
        if (meta.maxMessageBytes !== undefined && meta.maxMessageBytes > 0) {
          this.#fc.peerMaxMessageBytes = meta.maxMessageBytes;
        }
        this.#fc.send({
          kind: Kind.PONG,
          callId: meta.callId,
          maxMessageBytes: this.#host.maxMessageBytes,
        });
        return;
      case Kind.PONG:
        return;
      case Kind.MESSAGE:
      case Kind.HALF_CLOSE:
      case Kind.WINDOW_UPDATE:
        this.#onStreamFrame(meta, payload, owned);
        return;
      default:
        throw new FrameError(
          "BAD_META",
          `unexpected frame kind ${meta.kind} from a caller (call id ${meta.callId})`,
        );
    }
  }

  /** A frame over our limit: a request fails alone; anything else is a protocol error. */
  #onOversize(meta: RpcMeta, bodyLength: number): void {
    const limit = this.#host.maxMessageBytes;
    if (meta.kind === Kind.MESSAGE) {
      const stream = this.#streams?.get(meta.callId);
      if (stream !== undefined) {
        this.#host.logger.warn("request message too large", {
          peer: endpointKey(this.peer),
          method: `${stream.ctx.service}.${stream.ctx.method}`,
          bytes: bodyLength,
          limit,
        });
        stream.onOversize(bodyLength, limit);
        return;
      }
    }
    if (meta.kind !== Kind.REQUEST || this.#inflight.has(meta.callId)) {
      throw new FrameError(
        "TOO_LARGE",
        `frame of ${bodyLength} bytes exceeds maxMessageBytes ${limit}`,
      );
    }
    if (!this.#draining) this.#lastCallId = meta.callId; // answered before any GOAWAY
    this.#host.logger.warn("request too large", {
      peer: endpointKey(this.peer),
      method: `${meta.service}.${meta.method}`,
      bytes: bodyLength,
      limit,
    });
    this.#sendError(
      meta.callId,
      new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `request of ${bodyLength} bytes exceeds the provider's maxMessageBytes ${limit}`,
      ),
    );
  }

  #onRequest(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    const callId = meta.callId;
    const host = this.#host;
    if (this.#inflight.has(callId)) {
      throw new FrameError("BAD_META", `duplicate call id ${callId} while that call is in flight`);
    }
    if (this.#draining && !this.#servedDuringDrain(meta)) {
      const refused = new RpcError(Code.UNAVAILABLE, "provider is going away; call not started");
      this.#sendError(callId, refused, undefined, true);
      return;
    }
    if (!this.#draining) this.#lastCallId = callId; // a health check may come after GOAWAY
    if (this.#inflight.size >= host.maxInflightPerConnection) {
      this.#sendError(
        callId,
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `too many calls in flight on one connection (limit ${host.maxInflightPerConnection})`,
        ),
      );
      return;
    }
    const route = host.route(meta.service, meta.method);
    if (typeof route === "string") {
      host.logger.warn("unimplemented call", { peer: endpointKey(this.peer), reason: route });
      this.#sendError(callId, new RpcError(Code.UNIMPLEMENTED, route));
      return;
    }
    const desc = route.desc;
    if (desc.kind !== "unary" || meta.stream === true) {
      this.#onStreamRequest(meta, route, payload, owned);
      return;
    }
    // A lent buffer comes back once the handler's result settles and its answer is written.
    let lease: ReceiveLease | undefined;
    if (route.lend && desc.request.hasBytes) {
      lease = this.#fc.lend();
      // (The first request of a connection to a lending method is copied: lending starts here.)
      if (lease === undefined) this.#fc.startLending();
    }
    let request;
    try {
      request = desc.request.decode(payload, !owned && lease === undefined);
    } catch (e) {
      lease?.release();
      const msg = `cannot decode ${
        desc.request.type.fullName.slice(1)
      } for ${desc.service}.${desc.name}: ${e instanceof Error ? e.message : e}`;
      host.logger.warn("bad request", { peer: endpointKey(this.peer), error: msg });
      this.#sendError(callId, new RpcError(Code.INVALID_ARGUMENT, msg));
      return;
    }
    const ctx = route.metrics === undefined
      ? new CallContext(desc, meta, this.#site)
      : new MeteredCallContext(desc, meta, this.#site, route.metrics, payload.length);
    this.#inflight.set(callId, ctx);
    host.callDelta(1);
    let result: unknown;
    try {
      result = route.handler(request, ctx);
    } catch (e) {
      if (lease === undefined) this.#fail(ctx, desc, e);
      else this.#failLent(ctx, desc, e, lease);
      return;
    }
    if (result !== null && typeof (result as Promise<unknown>)?.then === "function") {
      // A native promise settles once and its then() does not throw; any other thenable is
      // adopted by one, so a then() that calls back twice or throws after calling back cannot
      // end the call twice.
      const settled = result instanceof Promise ? result : Promise.resolve(result);
      if (lease === undefined) {
        settled.then(
          (r) => this.#finish(ctx, desc, r),
          (e) => this.#fail(ctx, desc, e),
        );
      } else {
        settled.then(
          (r) => this.#finishLent(ctx, desc, r, lease),
          (e) => this.#failLent(ctx, desc, e, lease),
        );
      }
      return;
    }
    if (lease === undefined) this.#finish(ctx, desc, result);
    else this.#finishLent(ctx, desc, result, lease);
  }

  /** `#finish`, then gives the request's buffer back. */
  #finishLent(
    ctx: CallContext,
    desc: MethodDescriptor,
    result: unknown,
    lease: ReceiveLease,
  ): void {
    try {
      this.#finish(ctx, desc, result);
    } finally {
      lease.release();
    }
  }

  /** `#fail`, then gives the request's buffer back. */
  #failLent(
    ctx: CallContext,
    desc: MethodDescriptor,
    thrown: unknown,
    lease: ReceiveLease,
  ): void {
    try {
      this.#fail(ctx, desc, thrown);
    } finally {
      lease.release();
    }
  }

  /** Whether the request names a method served even while draining (a health check). */
  #servedDuringDrain(meta: RpcMeta): boolean {
    const route = this.#host.route(meta.service, meta.method);
    return typeof route !== "string" && route.duringDrain === true;
  }

  /** Ends the bookkeeping of a call; false when it was already answered (cancelled, shut down). */
  #end(ctx: CallContext, desc: MethodDescriptor): boolean {
    const host = this.#host;
    host.callDelta(-1);
    ctx.finish();
    const elapsed = Date.now() - ctx.startedAt;
    if (elapsed >= host.slowCallMs) {
      host.logger.warn("slow call", { method: `${desc.service}.${desc.name}`, ms: elapsed });
    }
    if (this.#inflight.get(ctx.callId) !== ctx) return false;
    this.#inflight.delete(ctx.callId);
    return true;
  }

  /**
   * A handler threw or rejected with `thrown`, whatever it is: an `RpcError` keeps its code,
   * anything else is `INTERNAL` (no stack trace) and one log line saying what was thrown.
   */
  #fail(ctx: CallContext, desc: MethodDescriptor, thrown: unknown): void {
    if (!this.#end(ctx, desc)) return this.#observe(ctx, -1, 0);
    const err = thrownToRpcError(thrown);
    this.#observe(ctx, err.code, 0, err.message);
    if (err !== thrown) {
      this.#host.logger.error("handler failed", {
        method: `${desc.service}.${desc.name}`,
        error: err.message,
        thrown, // rendered by the logger, which never throws (cycles, causes, getters)
      });
    }
    this.#sendError(ctx.callId, err, ctx.responseMetadata);
  }

  #finish(ctx: CallContext, desc: MethodDescriptor, result: unknown): void {
    if (!this.#end(ctx, desc)) return this.#observe(ctx, -1, 0);
    const host = this.#host;
    let bytes: EncodedPayload;
    try {
      bytes = desc.response.encodeLazy((result ?? {}) as Record<string, unknown>);
    } catch (e) {
      const msg = `cannot encode ${
        desc.response.type.fullName.slice(1)
      } returned by ${desc.service}.${desc.name}: ${e instanceof Error ? e.message : e}`;
      host.logger.error("bad response", { error: msg });
      this.#observe(ctx, Code.INTERNAL, 0, msg);
      this.#sendError(ctx.callId, new RpcError(Code.INTERNAL, msg));
      return;
    }
    let md: Record<string, string> | undefined;
    for (const _ in ctx.responseMetadata) {
      md = ctx.responseMetadata;
      break;
    }
    if (this.#fc.send({ kind: Kind.RESPONSE, callId: ctx.callId, metadata: md }, bytes)) {
      this.#observe(ctx, Code.OK, bytes.length);
    } else {
      const limit = this.#fc.peerMaxMessageBytes;
      this.#observe(ctx, Code.RESOURCE_EXHAUSTED, 0, "response too large for the caller");
      host.logger.warn("response too large for the caller", {
        method: `${desc.service}.${desc.name}`,
        bytes: bytes.length,
        limit,
      });
      this.#sendError(
        ctx.callId,
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `response of ${bytes.length} bytes exceeds the caller's maxMessageBytes ${limit}`,
        ),
      );
    }
  }

  /** A REQUEST opening a streaming call. */
  #onStreamRequest(meta: RpcMeta, route: Route, payload: Uint8Array, owned: boolean): void {
    const { callId } = meta;
    const desc = route.desc;
    const host = this.#host;
    const name = `${desc.service}.${desc.name}`;
    if (desc.kind === "unary" || meta.stream !== true) {
      const why = desc.kind === "unary"
        ? `${name} is unary, but was called as a stream`
        : `${name} streams (${desc.kind}), but was called as a unary method`;
      host.logger.warn("bad request", { peer: endpointKey(this.peer), error: why });
      this.#sendError(callId, new RpcError(Code.INVALID_ARGUMENT, why));
      return;
    }
    const streams = this.#streams ??= new Map();
    const max = host.maxStreamsPerConnection ?? DEFAULT_MAX_STREAMS_PER_CONNECTION;
    if (streams.size >= max) {
      host.logger.warn("stream refused: too many streams", {
        peer: endpointKey(this.peer),
        method: name,
        limit: max,
      });
      this.#sendError(
        callId,
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `too many streams open on one connection (limit ${max})`,
        ),
      );
      return;
    }
    let request: unknown;
    if (desc.kind === "server_stream") {
      try {
        request = desc.request.decode(payload, !owned);
      } catch (e) {
        const msg = `cannot decode ${desc.request.type.fullName.slice(1)} for ${name}: ${
          errorMessage(e)
        }`;
        host.logger.warn("bad request", { peer: endpointKey(this.peer), error: msg });
        this.#sendError(callId, new RpcError(Code.INVALID_ARGUMENT, msg));
        return;
      }
    }
    const ctx = new CallContext(desc, meta, this.#site);
    const record = serverStreamRecord(route.metrics, ctx);
    if (desc.kind === "server_stream") record?.received(payload.length);
    const stream = new ServerStream(this.#streamSide(), desc, ctx, route.handler, request, record);
    this.#inflight.set(callId, ctx);
    streams.set(callId, stream);
    host.callDelta(1);
    stream.start();
  }

  /** MESSAGE, HALF_CLOSE or WINDOW_UPDATE of a streaming call; late ones are dropped. */
  #onStreamFrame(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    const stream = this.#streams?.get(meta.callId);
    if (stream === undefined) return; // the stream ended (answered, cancelled)
    if (meta.kind === Kind.MESSAGE) stream.onMessage(payload, owned);
    else if (meta.kind === Kind.HALF_CLOSE) stream.onHalfClose();
    else stream.onWindowUpdate(meta.credit ?? 0);
  }

  /** What streams see of this connection (made once). */
  #streamSide(): StreamOwner {
    const fc = this.#fc;
    return this.#streamOwner ??= {
      logger: this.#host.logger,
      get peerMaxMessageBytes() {
        return fc.peerMaxMessageBytes;
      },
      send: (fields, payload) => fc.send(fields, payload),
      sendMessage: (fields, payload) => fc.sendBatched(fields, payload),
      flush: () => fc.flush(),
      release: (stream) => {
        const id = stream.ctx.callId;
        this.#streams?.delete(id);
        this.#host.callDelta(-1);
        stream.ctx.finish();
        if (this.#inflight.get(id) !== stream.ctx) return false;
        this.#inflight.delete(id);
        return true;
      },
      sendError: (callId, err, trailers) => this.#sendError(callId, err, trailers),
    };
  }

  /** Counts the end of a metered call (`code` -1: the code it was aborted with). */
  #observe(ctx: CallContext, code: number, responseBytes: number, error?: string): void {
    if (ctx instanceof MeteredCallContext) ctx.done(code, responseBytes, error);
  }

  #sendError(
    callId: number,
    err: RpcError,
    trailers?: Record<string, string>,
    notStarted?: boolean,
  ): void {
    const md = { ...err.metadata, ...trailers };
    let any = false;
    for (const _ in md) {
      any = true;
      break;
    }
    this.#fc.send({
      kind: Kind.RESPONSE,
      callId,
      status: err.code === Code.OK ? Code.UNKNOWN : err.code,
      errorMessage: err.message || codeName(err.code),
      metadata: any ? md : undefined,
      notStarted,
    });
  }

  #onClose(err: unknown): void {
    if (err !== undefined && !(err instanceof Deno.errors.BadResource)) {
      const reason = errorMessage(err);
      if (err instanceof FrameError) {
        this.#host.logger.warn("closing connection: protocol error", {
          peer: endpointKey(this.peer),
          error: reason,
        });
      } else if (
        !(err instanceof Deno.errors.ConnectionReset || err instanceof Deno.errors.BrokenPipe) &&
        !(err instanceof ConnectionTimeout)
      ) {
        this.#host.logger.warn("connection error", { peer: endpointKey(this.peer), error: reason });
      }
    }
    const gone = new RpcError(Code.CANCELLED, "connection closed");
    for (const ctx of this.#inflight.values()) ctx.abort(gone);
    this.#inflight.clear();
    this.#host.connectionClosed(this);
  }
}

/**
 * How long a gracefully closing connection waits for the caller to close its side after the
 * provider half-closed, before it closes anyway.
 */
export const DEFAULT_LINGER_MS = 1000;

/** Why the provider closed a slow or idle connection (already logged by the provider). */
export class ConnectionTimeout extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConnectionTimeout";
  }
}
