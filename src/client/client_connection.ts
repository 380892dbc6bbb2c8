/**
 * The caller side of one multiplexed connection to a provider: call ids, pending calls,
 * deadlines, cancellation, GOAWAY and liveness pings.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import { abortReason } from "../util/signals.ts";
import type { Logger } from "../log/logger.ts";
import { type ByteStream, FramedConnection } from "../transport/framed_connection.ts";
import { connect, type TlsClientOptions } from "../transport/listen.ts";
import type { DeadlineWheel } from "../util/deadline_wheel.ts";
import { FrameError } from "../wire/frame.ts";
import { Kind, type MetaFields, type RpcMeta } from "../wire/meta.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import { CallSlab } from "../util/call_slab.ts";
import type { StreamCall, StreamLink } from "./stream_call.ts";
import type { OutgoingCall } from "./outgoing_call.ts";
import { holdLease } from "./buffer_loan.ts";

/**
 * Bytes of requests a connection holds unsent (queued or being written) above which new calls
 * on it fail at once with `RESOURCE_EXHAUSTED` instead of queueing: the provider has stopped
 * reading (it is overloaded, or its own backpressure paused it), and queueing more would grow
 * the caller's memory without bound. A call is refused only when the queue is already over the
 * bound, so one request up to `maxMessageBytes` always fits into a queue below it.
 */
export const DEFAULT_MAX_UNSENT_REQUEST_BYTES = 16 * 1024 * 1024;

/** Options of {@linkcode ClientConnection}. */
export interface ClientConnectionOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  wheel: DeadlineWheel;
  logger: Logger;
  tls?: TlsClientOptions | undefined;
  connectTimeoutMs: number;
  /** See {@linkcode DEFAULT_MAX_UNSENT_REQUEST_BYTES} (the default). */
  maxUnsentBytes?: number | undefined;
  /** Called once when the connection stops taking new calls (closed or told to go away). */
  onGone: (conn: ClientConnection) => void;
  /** Called once when the connection has fully closed. */
  onClosed: (conn: ClientConnection) => void;
  /**
   * A call the provider never started (it said so, or it went away before reading it): returns
   * the promise of sending it again elsewhere, or undefined to fail it with `error`.
   */
  onNotStarted?:
    | ((
      call: OutgoingCall,
      error: RpcError,
      conn: ClientConnection,
    ) => Promise<unknown> | undefined)
    | undefined;
  /**
   * A stream the provider never started (it said so, or it went away before reading it): open
   * it again elsewhere, or fail it.
   */
  onStreamNotStarted?:
    | ((call: StreamCall, error: RpcError, conn: ClientConnection) => void)
    | undefined;
}

/** Connect errors that only mean "this connection is going away": nothing was sent on it. */
const goingAwayErrors = new WeakSet<Error>();

/**
 * True for a connect error caused by the provider's GOAWAY (without a status) during the
 * handshake, e.g. an idle close crossing the new connection: no call was sent, the provider is
 * not at fault, and the call may try again at once.
 */
export function isGoingAway(e: unknown): boolean {
  return e instanceof Error && goingAwayErrors.has(e);
}

/** The call id after `id`: ids grow by one and wrap around before 2^32 - 16, skipping 0. */
function nextCallId(id: number): number {
  return id >= 0xfffffff0 ? 1 : id + 1;
}

/** The call whose promise is being made: the one executor below hands it its settle functions. */
let capturing: OutgoingCall | undefined;

/** A promise executor shared by every call (a closure per call would be garbage per call). */
function capture(resolve: (v: unknown) => void, reject: (e: RpcError) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

/** The promise of `p`'s outcome; `p.resolve` and `p.reject` settle it. */
function promiseOf(p: OutgoingCall): Promise<unknown> {
  capturing = p;
  const promise = new Promise<unknown>(capture);
  capturing = undefined;
  return promise;
}

/** One connection to a provider, shared by every call to it. */
export class ClientConnection {
  readonly host: string;
  readonly port: number;
  /** `host:port` of the provider (IPv6 in brackets), as logs and errors name it. */
  readonly key: string;
  #o: ClientConnectionOptions;
  #fc: FramedConnection | undefined;
  /** Unary calls waiting for their response, by call id. */
  #pending = new CallSlab<OutgoingCall>();
  /** Streaming calls by id (ids shared with `#pending`); made on the first stream. */
  #streams: Map<number, StreamCall> | undefined;
  #streamLink: StreamLink | undefined;
  #nextId = 1;
  /** The meta fields of a unary REQUEST, filled in for each one (see `#start`). */
  #requestMeta: MetaFields = {
    kind: Kind.REQUEST,
    callId: 0,
    route: undefined,
    timeoutMs: 0,
    metadata: undefined,
  };
  #ready: Promise<void> | undefined;
  #closed = false;
  #gone = false;
  #draining = false;
  #closeReason: RpcError | undefined;
  #pingSentAt = 0;
  #closedPromise: Promise<void> | undefined;
  #handshake: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #connectAbort: AbortController | undefined;
  #goAwayInHandshake = false;
  /** True when the connection was closed because the provider stopped answering pings. */
  livenessFailed = false;

  /** Creates a connection; nothing happens until {@linkcode ClientConnection.connect}. */
  constructor(options: ClientConnectionOptions) {
    this.#o = options;
    this.host = options.host;
    this.port = options.port;
    this.key = endpointKey(options);
  }

  /** Calls waiting for a response, and streams open. */
  get inflight(): number {
    return this.#pending.size + (this.#streams?.size ?? 0);
  }

  /** Connected, handshake done, and usable for new calls. */
  get ready(): boolean {
    return this.#fc !== undefined && this.#handshake === undefined && !this.#closed &&
      !this.#draining;
  }

  /** Bytes queued for the provider that it has not read yet (as far as the socket knows). */
  get unsentBytes(): number {
    return this.#fc?.unsentBytes ?? 0;
  }

  /** The TCP (and TLS) connection is open; the handshake may still be pending. */
  get connected(): boolean {
    return this.#fc !== undefined;
  }

  /** Closed, or told by the provider to go away. */
  get gone(): boolean {
    return this.#closed || this.#draining;
  }

  /** Opens the TCP connection (once); rejects with `UNAVAILABLE` when it cannot. */
  connect(): Promise<void> {
    return this.#ready ??= this.#connect();
  }

  async #connect(): Promise<void> {
    const { host, port } = this.#o;
    const ms = this.#o.connectTimeoutMs;
    const ac = this.#connectAbort = new AbortController();
    let stream: ByteStream | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
      this.#handshake?.reject(new Error("no answer"));
    }, ms);
    try {
      stream = await connect({ host, port, tls: this.#o.tls, signal: ac.signal });
      if (this.#closed) {
        stream.close();
        throw this.#closeReason ?? new RpcError(Code.CANCELLED, "channel closed");
      }
      const fc = this.#fc = new FramedConnection(stream, {
        maxMessageBytes: this.#o.maxMessageBytes,
        onFrame: (meta, payload, owned) => this.#onFrame(meta, payload, owned),
        onOversize: (meta, bodyLength) => this.#onOversize(meta, bodyLength),
        onClose: (err) => this.#onClose(err),
        // Every frame is handled at once: only its metadata record outlives the callback.
        reuseMeta: true,
      });
      fc.start();
      // Handshake: no call is routed here before the provider has answered a PING, so a
      // process that accepts connections but is frozen (SIGSTOP, a hung loop) is skipped.
      await new Promise<void>((resolve, reject) => {
        this.#handshake = { resolve, reject };
        if (timedOut) reject(new Error("no answer"));
        // Our limit travels with the handshake PING; the PONG brings the provider's.
        fc.send({ kind: Kind.PING, callId: 0, maxMessageBytes: this.#o.maxMessageBytes });
      });
    } catch (e) {
      this.#handshake = undefined;
      // A provider that answered with a status (GOAWAY) or broke the protocol keeps its code.
      if (e instanceof RpcError && e.code !== Code.UNAVAILABLE) {
        if (this.#fc !== undefined) {
          this.#closeWith(e);
          await this.#closedPromise;
        }
        throw e;
      }
      const why = timedOut
        ? this.#fc !== undefined
          ? `no answer to the connection handshake within ${ms} ms`
          : `${
            this.#o.tls ? "TCP connect and TLS handshake" : "TCP connect"
          } not completed within ${ms} ms`
        : e instanceof Error
        ? e.message
        : String(e);
      const err = new RpcError(Code.UNAVAILABLE, `cannot connect to ${this.key}: ${why}`, {
        cause: e,
      });
      if (this.#goAwayInHandshake && !timedOut) goingAwayErrors.add(err);
      if (this.#fc !== undefined) {
        this.#closeWith(err);
        await this.#closedPromise;
      } else {
        this.#closed = true;
        this.#goneOnce();
        this.#o.onClosed(this);
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
    this.#handshake = undefined;
    this.#o.logger.debug("connected", { provider: this.key });
  }

  /**
   * Sends a request on the (connected) connection and returns the promise of its decoded
   * response. A request over the provider's `maxMessageBytes` fails `RESOURCE_EXHAUSTED` without
   * being sent. A call the provider never started is handed to `onNotStarted`.
   */
  call(call: OutgoingCall): Promise<unknown> {
    call.id = 0;
    const promise = promiseOf(call);
    try {
      this.#start(call);
    } catch (e) {
      // (The request's encoder threw while writing it: the call fails with that error.)
      if (call.id !== 0 && this.#pending.get(call.id) === call) this.#settle(call);
      call.reject(e as RpcError);
    }
    return promise;
  }

  #start(p: OutgoingCall): void {
    const { payload, deadline } = p;
    const signal = p.opts.signal;
    const fc = this.#fc;
    if (fc === undefined || this.#closed) {
      p.reject(this.#closeReason ?? new RpcError(Code.UNAVAILABLE, "connection is closed"));
      return;
    }
    if (this.#draining && !p.duringDrain) {
      // Told to go away between the channel's pick and now: nothing is sent here.
      this.#notStarted(p, new RpcError(Code.UNAVAILABLE, "provider is going away"));
      return;
    }
    const backlog = this.#backlog(fc);
    if (backlog !== undefined) {
      p.reject(backlog);
      return;
    }
    if (p.opts.loan !== undefined) fc.startLending();
    const id = this.#allocateId();
    p.id = id;
    p.holder = this;
    this.#pending.add(p);
    let timeoutMs = 0;
    if (deadline > 0) {
      timeoutMs = Math.max(1, Math.ceil(deadline - Date.now()));
      this.#o.wheel.add(p);
    }
    if (signal !== undefined) {
      p.onAbort = () => this.fail(p, abortReason(signal.reason), true);
      signal.addEventListener("abort", p.onAbort, { once: true });
    }
    // One meta object for every request of the connection: the frame is written before `send`
    // returns, and nothing keeps the fields.
    const meta = this.#requestMeta;
    meta.callId = id;
    meta.route = p.desc.route;
    meta.timeoutMs = timeoutMs;
    meta.metadata = p.opts.metadata;
    let sent;
    try {
      sent = fc.send(meta, payload);
    } finally {
      meta.route = undefined;
      meta.metadata = undefined;
    }
    if (!sent) {
      this.#settle(p);
      p.reject(
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `request of ${payload.length} bytes exceeds the provider's maxMessageBytes ${fc.peerMaxMessageBytes}`,
        ),
      );
    }
  }

  /** Why no call may start now because too many request bytes wait unsent, or undefined. */
  #backlog(fc: FramedConnection): RpcError | undefined {
    const maxUnsent = this.#o.maxUnsentBytes ?? DEFAULT_MAX_UNSENT_REQUEST_BYTES;
    if (fc.unsentBytes <= maxUnsent) return undefined;
    return new RpcError(
      Code.RESOURCE_EXHAUSTED,
      `${fc.unsentBytes} bytes of requests to ${this.key} are still unsent ` +
        `(limit ${maxUnsent}): the provider is not reading`,
    );
  }

  /** The next call id used by neither a unary call in flight nor an open stream. */
  #allocateId(): number {
    let id = this.#nextId;
    while (!this.#pending.slotFree(id) || this.#streams?.has(id) === true) id = nextCallId(id);
    this.#nextId = nextCallId(id);
    return id;
  }

  /**
   * Opens a streaming call on the (connected) connection: its REQUEST (carrying the request of
   * a server stream) is queued, then the call sends its messages itself. A stream refused before
   * it was sent fails (or, if the provider is going away, goes to `onStreamNotStarted`).
   */
  openStream(call: StreamCall): void {
    const fc = this.#fc;
    if (fc === undefined || this.#closed) {
      call.fail(this.#closeReason ?? new RpcError(Code.UNAVAILABLE, "connection is closed"), false);
      return;
    }
    if (this.#draining) {
      this.#streamNotStarted(call, new RpcError(Code.UNAVAILABLE, "provider is going away"));
      return;
    }
    const backlog = this.#backlog(fc);
    if (backlog !== undefined) {
      call.fail(backlog, false);
      return;
    }
    const streams = this.#streams ??= new Map();
    const id = this.#allocateId();
    const timeoutMs = call.deadline > 0 ? Math.max(1, Math.ceil(call.deadline - Date.now())) : 0;
    const sent = fc.send({
      kind: Kind.REQUEST,
      callId: id,
      route: call.desc.route,
      timeoutMs,
      metadata: call.metadata,
      stream: true,
    }, call.payload);
    if (!sent) {
      call.fail(
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `request of ${call.payload?.length} bytes exceeds the provider's maxMessageBytes ${fc.peerMaxMessageBytes}`,
        ),
        false,
      );
      return;
    }
    streams.set(id, call);
    call.attach(this.#linkFor(fc), id);
  }

  /** What streams see of this connection (made once). */
  #linkFor(fc: FramedConnection): StreamLink {
    return this.#streamLink ??= {
      get peerMaxMessageBytes() {
        return fc.peerMaxMessageBytes;
      },
      send: (fields, payload) => fc.send(fields, payload),
      sendMessage: (fields, payload) => fc.sendBatched(fields, payload),
      flush: () => fc.flush(),
      release: (call) => {
        if (this.#streams?.get(call.id) !== call) return;
        this.#streams.delete(call.id);
        this.#maybeFinishDrain();
      },
    };
  }

  /** MESSAGE, WINDOW_UPDATE, CANCEL or RESPONSE of a streaming call; late ones are dropped. */
  #onStreamFrame(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    const call = this.#streams?.get(meta.callId);
    if (call === undefined) return; // ended (cancelled, timed out): a late frame is dropped
    switch (meta.kind) {
      case Kind.MESSAGE:
        call.onMessage(meta, payload, owned);
        return;
      case Kind.WINDOW_UPDATE:
        call.onWindowUpdate(meta.credit ?? 0);
        return;
      default:
        if (meta.status !== 0 && meta.notStarted === true) {
          this.#streams!.delete(meta.callId);
          this.#streamNotStarted(call, new RpcError(meta.status, meta.errorMessage));
          this.#maybeFinishDrain();
          return;
        }
        call.onEnd(meta, payload, owned);
    }
  }

  #streamNotStarted(call: StreamCall, err: RpcError): void {
    call.detach();
    if (this.#o.onStreamNotStarted !== undefined) this.#o.onStreamNotStarted(call, err, this);
    else call.fail(err, false);
  }

  /** Fails one pending call with `err`; with `notify`, tells the provider to stop it. */
  fail(p: OutgoingCall, err: RpcError, notify: boolean): void {
    if (this.#pending.get(p.id) !== p) return;
    this.#settle(p);
    // The status tells the provider why (a deadline, or the caller cancelling).
    if (notify) this.#fc?.send({ kind: Kind.CANCEL, callId: p.id, status: err.code });
    p.reject(err);
    this.#maybeFinishDrain();
  }

  /** Sends a PING when nothing was heard for `idleMs`; closes when a PING went unanswered. */
  keepalive(now: number, idleMs: number, timeoutMs: number): void {
    const fc = this.#fc;
    if (fc === undefined || this.#closed) return;
    if (this.#pingSentAt > 0) {
      if (fc.lastFrameAt >= this.#pingSentAt) this.#pingSentAt = 0;
      else if (now - this.#pingSentAt >= timeoutMs) {
        this.#o.logger.warn("provider not answering pings, closing connection", {
          provider: this.key,
          silentMs: now - fc.lastFrameAt,
        });
        this.livenessFailed = true;
        this.#closeWith(
          new RpcError(
            Code.UNAVAILABLE,
            `provider ${this.key} did not answer a ping within ${timeoutMs} ms`,
          ),
        );
        return;
      }
    }
    if (this.#pingSentAt === 0 && now - fc.lastFrameAt >= idleMs) {
      this.#pingSentAt = now;
      fc.send({ kind: Kind.PING, callId: 0 });
    }
  }

  /** Takes no new calls; closes once the calls in flight have finished. */
  retire(): void {
    this.#draining = true;
    this.#goneOnce();
    this.#maybeFinishDrain();
  }

  /** Fails every pending call with `reason` and closes. Idempotent. */
  async close(reason?: RpcError): Promise<void> {
    const why = reason ?? new RpcError(Code.CANCELLED, "channel closed");
    this.#closeWith(why);
    // A connect in progress is aborted, and awaited so no socket op outlives close().
    this.#connectAbort?.abort();
    this.#handshake?.reject(why);
    await this.#ready?.catch(() => {});
    await this.#closedPromise;
  }

  #closeWith(reason: RpcError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    this.#failAll(reason);
    this.#goneOnce();
    const done = this.#fc?.close() ?? Promise.resolve();
    this.#closedPromise = done.then(() => this.#o.onClosed(this));
  }

  #settle(p: OutgoingCall): void {
    this.#pending.delete(p);
    p.holder = undefined;
    if (p.wheelSlot !== undefined) this.#o.wheel.remove(p);
    if (p.onAbort !== undefined) {
      p.opts.signal!.removeEventListener("abort", p.onAbort);
      p.onAbort = undefined;
    }
  }

  #failAll(err: RpcError): void {
    const all = this.#pending.values(this.#nextId);
    for (const p of all) {
      this.#settle(p);
      p.reject(err);
    }
    // A stream that broke is never opened again: messages may have gone out.
    if (this.#streams !== undefined) {
      for (const s of [...this.#streams.values()]) s.fail(err, false);
    }
  }

  #onFrame(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    switch (meta.kind) {
      case Kind.RESPONSE: {
        const p = this.#pending.get(meta.callId);
        if (p === undefined) {
          if (this.#streams !== undefined) this.#onStreamFrame(meta, payload, owned);
          return; // (otherwise cancelled or timed out: a late answer is dropped)
        }
        if (p.deadline > 0 && this.#fc!.lastReadAt >= p.deadline) {
          // Arrived (was read) after the deadline but before the wheel's tick: the deadline
          // still wins.
          this.fail(p, new RpcError(Code.DEADLINE_EXCEEDED, "deadline exceeded"), false);
          break;
        }
        this.#settle(p);
        if (meta.status !== 0) {
          if (meta.notStarted === true) {
            this.#notStarted(p, new RpcError(meta.status, meta.errorMessage));
            break;
          }
          p.reject(
            new RpcError(meta.status, meta.errorMessage, { metadata: meta.metadata ?? {} }),
          );
        } else {
          p.decoder.onMetadata?.(meta.metadata ?? {});
          const loan = p.opts.loan;
          const lease = loan === undefined || p.decoder.hasBytes === false
            ? undefined
            : this.#fc!.lend();
          let value;
          try {
            value = p.decoder.decode(payload, !owned && lease === undefined);
            if (lease !== undefined) holdLease(loan!, lease);
          } catch (e) {
            lease?.release();
            p.reject(
              new RpcError(Code.INTERNAL, `cannot decode response: ${(e as Error).message}`),
            );
            break;
          }
          p.resolve(value);
        }
        break;
      }
      case Kind.PING: {
        // A provider that sends pings but does not read the answers gets no more of them once
        // the unsent bound is passed: the caller's memory does not grow with its pings.
        const fc = this.#fc!;
        if (fc.unsentBytes <= (this.#o.maxUnsentBytes ?? DEFAULT_MAX_UNSENT_REQUEST_BYTES)) {
          fc.send({ kind: Kind.PONG, callId: meta.callId });
        }
        return;
      }
      case Kind.PONG:
        if (meta.maxMessageBytes !== undefined && meta.maxMessageBytes > 0) {
          this.#fc!.peerMaxMessageBytes = meta.maxMessageBytes;
        }
        this.#handshake?.resolve();
        return;
      case Kind.GOAWAY: {
        if (this.#handshake !== undefined && meta.status === 0) this.#goAwayInHandshake = true;
        this.#handshake?.reject(
          meta.status !== 0
            ? new RpcError(meta.status, meta.errorMessage)
            : new RpcError(Code.UNAVAILABLE, "provider is going away"),
        );
        this.#draining = true;
        if (meta.status !== 0) {
          this.#failAll(new RpcError(meta.status, meta.errorMessage));
        } else if (meta.notStarted === true) {
          // Calls sent after the last one the provider accepted never started: send them again.
          const last = meta.lastCallId ?? 0;
          const err = new RpcError(Code.UNAVAILABLE, "provider went away before the call started");
          for (const p of this.#pending.values(this.#nextId)) {
            if (sentAfter(p.id, last)) {
              this.#settle(p);
              this.#notStarted(p, err);
            }
          }
          if (this.#streams !== undefined) {
            for (const s of [...this.#streams.values()]) {
              if (sentAfter(s.id, last)) {
                this.#streams.delete(s.id);
                this.#streamNotStarted(s, err);
              }
            }
          }
        }
        this.#o.logger.info("provider going away", {
          provider: this.key,
          status: meta.status,
        });
        this.#goneOnce();
        break;
      }
      case Kind.MESSAGE:
      case Kind.WINDOW_UPDATE:
        this.#onStreamFrame(meta, payload, owned);
        return;
      case Kind.CANCEL:
        // A provider may end a stream with CANCEL; for anything else it is a protocol error.
        if (this.#streams?.has(meta.callId) === true) {
          this.#onStreamFrame(meta, payload, owned);
          return;
        }
        throw new FrameError(
          "BAD_META",
          `unexpected frame kind ${meta.kind} from a provider (call id ${meta.callId})`,
        );
      default:
        throw new FrameError(
          "BAD_META",
          `unexpected frame kind ${meta.kind} from a provider (call id ${meta.callId})`,
        );
    }
    this.#maybeFinishDrain();
  }

  /** A response over our limit fails its call alone; its payload is skipped. */
  #onOversize(meta: RpcMeta, bodyLength: number): void {
    const limit = this.#o.maxMessageBytes;
    const stream = this.#streams?.get(meta.callId);
    if (stream !== undefined && (meta.kind === Kind.MESSAGE || meta.kind === Kind.RESPONSE)) {
      this.#o.logger.warn("response too large", { provider: this.key, bytes: bodyLength, limit });
      stream.fail(
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `response message of ${bodyLength} bytes exceeds maxMessageBytes ${limit}`,
        ),
        true,
      );
      return;
    }
    const p = meta.kind === Kind.RESPONSE ? this.#pending.get(meta.callId) : undefined;
    if (p === undefined) {
      if (meta.kind === Kind.RESPONSE) return; // a late answer to a call given up on
      throw new FrameError(
        "TOO_LARGE",
        `frame of ${bodyLength} bytes exceeds maxMessageBytes ${limit}`,
      );
    }
    this.#o.logger.warn("response too large", {
      provider: this.key,
      bytes: bodyLength,
      limit,
    });
    this.fail(
      p,
      new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `response of ${bodyLength} bytes exceeds maxMessageBytes ${limit}`,
      ),
      false,
    );
  }

  /** Sends a (settled) call that never started again through the channel, or fails it. */
  #notStarted(p: OutgoingCall, err: RpcError): void {
    const again = this.#o.onNotStarted?.(p, err, this);
    if (again === undefined) p.reject(err);
    else void again.then(p.resolve, p.reject); // settles the original call; never rejects
  }

  #maybeFinishDrain(): void {
    if (
      this.#draining && this.#pending.size === 0 && !this.#closed &&
      (this.#streams === undefined || this.#streams.size === 0)
    ) {
      this.#closeWith(new RpcError(Code.UNAVAILABLE, "provider went away"));
    }
  }

  #onClose(err: unknown): void {
    const where = this.key;
    if (err instanceof FrameError) {
      this.#o.logger.warn("closing connection: protocol error", {
        provider: where,
        error: err.message,
      });
    }
    const reason = err instanceof FrameError
      ? new RpcError(Code.INTERNAL, `protocol error from ${where}: ${err.message}`)
      : new RpcError(Code.UNAVAILABLE, `connection to ${where} closed`, { cause: err });
    this.#handshake?.reject(reason);
    this.#closeWith(reason);
  }

  #goneOnce(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#o.onGone(this);
  }
}

/**
 * Whether call `id` was sent after call `last`: ids grow by one per call and wrap around, so they
 * are compared as serial numbers (the calls in flight span far less than 2^31 ids).
 */
function sentAfter(id: number, last: number): boolean {
  const d = (id - last) >>> 0;
  return d !== 0 && d < 0x80000000;
}
