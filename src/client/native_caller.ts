/**
 * The native protocol's {@linkcode Caller}: picks a provider of the service (through the
 * {@linkcode ServiceDirectory} and the balancer), sends the call on its multiplexed connection,
 * and sends again, elsewhere, a call a provider never started.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { MethodDescriptor } from "../schema/method_descriptor.ts";
import type { TlsClientOptions } from "../transport/listen.ts";
import { abortReason, type CallSignal, callSignal, raceSignal } from "../util/signals.ts";
import type { Payload } from "../wire/frame_writer.ts";
import type { Balancer } from "./balancer.ts";
import type { CallOptions } from "./call_options.ts";
import type { Caller } from "./caller.ts";
import { type ClientConnection, isGoingAway } from "./client_connection.ts";
import { OutgoingCall, type ResponseDecoder } from "./outgoing_call.ts";
import type { Endpoint, Registry } from "../registry/registry.ts";
import { ServiceDirectory, type ServiceState } from "./service_directory.ts";
import type { Subchannel } from "./subchannel.ts";
import { SubchannelPool } from "./subchannel_pool.ts";
import type { StreamCall } from "./stream_call.ts";
import { setServerAddress, type TracedOptions } from "../observe/tracing.ts";

/** Options of {@linkcode NativeCaller}. */
export interface NativeCallerOptions {
  /** Where to find providers. Either this or `fixed`. */
  registry?: Registry | undefined;
  /** One provider for every service, instead of a registry. */
  fixed?: Endpoint | undefined;
  balancer: Balancer;
  hashKey?:
    | string
    | ((service: string, method: string, request: unknown) => string | undefined)
    | undefined;
  maxMessageBytes: number;
  logger: Logger;
  connectTimeoutMs: number;
  keepaliveMs: number;
  keepaliveTimeoutMs: number;
  tls?: TlsClientOptions | undefined;
  /** Check providers' health (see `RpcChannelOptions.healthCheck`). */
  healthCheck?: boolean | undefined;
  /** Metadata sent with health checks (the channel's). */
  metadata?: Record<string, string> | undefined;
}

/**
 * How many times a call that a provider never started (GOAWAY, idle close) is sent again, on
 * top of the first send; each hop is also bounded by the call's deadline.
 */
const MAX_NOT_STARTED_RESENDS = 4;

/** A unary call as this caller sends it: an attempt, with what picking a provider needs. */
class PendingSend extends OutgoingCall<MethodDescriptor, CallOptions> {
  /**
   * Aborts with `DEADLINE_EXCEEDED` or `CANCELLED` (an `RpcError`): bounds every wait before the
   * request is sent (registry, connect, handshake). Made on the first such wait, only when the
   * call has a deadline or a signal.
   */
  bound: CallSignal | undefined = undefined;

  constructor(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    /** The request object (for a hash key). */
    readonly request: unknown,
    hops: number,
  ) {
    super(desc, payload, decoder, deadline, opts, hops);
  }

  /** The same call as a new attempt, sent again for the `hops + 1`th time (no wait bound yet). */
  again(): PendingSend {
    const { desc, payload, decoder, opts, deadline, request, hops } = this;
    return new PendingSend(desc, payload, decoder, opts, deadline, request, hops + 1);
  }
}

/**
 * Calls in the native protocol, one multiplexed connection per provider.
 *
 * @example What `RpcChannel` does with each call
 * ```ts ignore
 * const caller = new NativeCaller({ directory, balancer, maxMessageBytes, logger, ... });
 * const res = await caller.call(desc, payload, desc.response, {}, Date.now() + 2000, request);
 * await caller.close();
 * ```
 */
export class NativeCaller implements Caller {
  #subchannels: SubchannelPool;
  #directory: ServiceDirectory;
  #balancer: Balancer;
  #hashKey: NativeCallerOptions["hashKey"];
  #logger: Logger;
  #closed = false;

  /** Creates the caller; it connects lazily, on the first call to each provider. */
  constructor(o: NativeCallerOptions) {
    this.#subchannels = new SubchannelPool({
      maxMessageBytes: o.maxMessageBytes,
      logger: o.logger,
      connectTimeoutMs: o.connectTimeoutMs,
      keepaliveMs: o.keepaliveMs,
      keepaliveTimeoutMs: o.keepaliveTimeoutMs,
      tls: o.tls,
      onNotStarted: this.#sendAgain,
      healthCheck: o.healthCheck,
      metadata: o.metadata,
      onStreamNotStarted: this.#openAgain,
    });
    this.#directory = new ServiceDirectory({
      registry: o.registry,
      fixed: o.fixed,
      logger: o.logger,
      subchannels: this.#subchannels,
    });
    this.#balancer = o.balancer;
    this.#hashKey = o.hashKey;
    this.#logger = o.logger;
  }

  /** Sends the call; hands the response metadata to `opts.onResponseMetadata` on success. */
  call(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    request: unknown,
  ): Promise<unknown> {
    if (opts.onResponseMetadata !== undefined) {
      return this.#withResponseMetadata(desc, payload, decoder, opts, deadline, request);
    }
    return this.#dispatch(desc, payload, decoder, opts, deadline, request);
  }

  /**
   * Opens a streaming call on a provider of its service (resolving, picking and connecting as
   * calls do, bounded by its deadline and signal); any failure ends the call.
   */
  openStream(call: StreamCall, avoid?: Set<string>): void {
    // Never rejects: every failure ends the call, whose iteration reports it.
    void this.#openStream(call, avoid);
  }

  async #openStream(call: StreamCall, avoid: Set<string> | undefined): Promise<void> {
    try {
      const conn = await this.#streamConnection(call, avoid);
      if (call.ended) return;
      conn.openStream(call);
    } catch (e) {
      call.fail(RpcError.from(e, Code.UNAVAILABLE), false);
    }
  }

  /** A ready connection for `call`; only providers that are not reachable are skipped. */
  async #streamConnection(call: StreamCall, avoid: Set<string> | undefined) {
    const { desc } = call;
    const signal = call.bound.signal;
    const staged = <T>(p: Promise<T>, stage: string) =>
      raceSignal(p, signal, (reason) => {
        const base = RpcError.from(reason, Code.CANCELLED);
        return new RpcError(base.code, `${base.message} while ${stage}`, { cause: reason });
      });
    const resolving = this.#directory.resolve(desc.service);
    const svc = resolving instanceof Promise
      ? await staged(resolving, `resolving the providers of ${desc.service}`)
      : resolving;
    const tried = new Set<string>();
    const opts = { metadata: call.metadata } as CallOptions;
    const target = { desc, opts, request: call.request };
    let lastError: RpcError | undefined;
    for (;;) {
      if (this.#closed) throw new RpcError(Code.CANCELLED, "channel closed");
      if (call.ended) throw new RpcError(Code.CANCELLED, "stream ended");
      const ep = this.#choose(svc, tried, avoid, target);
      if (ep === undefined) {
        throw lastError ??
          new RpcError(Code.UNAVAILABLE, `no provider available for service ${desc.service}`);
      }
      tried.add(ep.key);
      if (call.record?.span !== undefined) setServerAddress(call.record.span, ep.address);
      const conn = ep.connection();
      if (conn.ready) return conn;
      try {
        await staged(conn.connect(), `connecting to ${ep.key}`);
        return conn;
      } catch (e) {
        if (e instanceof RpcError && e.code === Code.UNAVAILABLE) {
          lastError = e;
          continue; // nothing was sent: try another provider
        }
        throw e;
      }
    }
  }

  /**
   * A stream the provider never started is opened again, elsewhere if possible, as a unary call is
   * sent again: a server stream (its one request travels with the REQUEST), and a client or
   * bidirectional stream none of whose request messages has gone out yet (a message the request
   * pump takes meanwhile is held for the new attempt). One that sent a message fails
   * `UNAVAILABLE`: that message reached a provider that dropped it, and it cannot be taken from
   * the application's iterable again.
   */
  #openAgain = (call: StreamCall, error: RpcError, from: ClientConnection): void => {
    if (call.ended) return;
    const why = this.#closed
      ? "the channel is closed"
      : call.messagesSent > 0
      ? `${call.messagesSent} request message${
        call.messagesSent === 1 ? " was" : "s were"
      } already sent to it (a stream is opened again only before its first request message)`
      : call.hops >= MAX_NOT_STARTED_RESENDS
      ? `it was refused ${call.hops + 1} times`
      : undefined;
    if (why !== undefined) {
      call.fail(
        new RpcError(
          Code.UNAVAILABLE,
          `stream not started by ${from.key}: ${error.message}; not opened again: ${why}`,
        ),
        false,
      );
      return;
    }
    this.#logger.debug("opening again a stream the provider never started", {
      method: `${call.desc.service}.${call.desc.name}`,
      provider: from.key,
      error: error.message,
    });
    call.hops++;
    this.openStream(call, new Set([from.key]));
  };

  /** Open connections, and connections opened again to a provider after one was lost. */
  stats(): { connections: number; reconnects: number } {
    return { connections: this.#subchannels.size, reconnects: this.#subchannels.reconnects };
  }

  /** Fails calls in flight with `CANCELLED` and closes every connection. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#directory.close();
    await this.#subchannels.close();
  }

  /** Sends the call and hands the response metadata to `opts.onResponseMetadata` on success. */
  async #withResponseMetadata(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    request: unknown,
  ): Promise<unknown> {
    let metadata: Record<string, string> = {};
    const capturing: ResponseDecoder = {
      decode: (bytes, borrowed) => decoder.decode(bytes, borrowed),
      onMetadata: (md) => metadata = md,
      hasBytes: decoder.hasBytes,
    };
    const value = await this.#dispatch(desc, payload, capturing, opts, deadline, request);
    opts.onResponseMetadata!(metadata); // a throw here rejects the call with that error
    return value;
  }

  #dispatch(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    request: unknown,
  ): Promise<unknown> {
    if ((opts.retries ?? 0) > 0) {
      return this.#bounded(
        new PendingSend(desc, payload, decoder, opts, deadline, request, 0),
        (call) => this.#sendWithRetries(call),
      );
    }
    // Fast path: service resolved, provider picked, connection open.
    const svc = this.#directory.ready(desc.service);
    let picked: Subchannel | undefined;
    if (svc !== undefined) {
      const healthy = this.#directory.healthy(svc);
      if (healthy.length > 0) {
        const ep = this.#balancer.pick(healthy, this.#key(desc, opts, request));
        const conn = ep.readyConnection;
        if (conn !== undefined) {
          const call = new PendingSend(desc, payload, decoder, opts, deadline, request, 0);
          if ((opts as TracedOptions).span !== undefined) traceServer(opts, ep);
          return conn.call(call);
        }
        // Not connected yet: connect in the background and, if another provider is ready,
        // send there now, so no call waits for a handshake while a ready provider exists.
        // (Only for a provider that failed before: a fresh one is worth one handshake's wait,
        // and sticky balancers keep their choice.)
        const ready = ep.failures > 0 ? this.#readyOthers(healthy, ep) : undefined;
        if (ready !== undefined) {
          const other = this.#balancer.pick(ready, this.#key(desc, opts, request));
          const call = new PendingSend(desc, payload, decoder, opts, deadline, request, 0);
          if ((opts as TracedOptions).span !== undefined) traceServer(opts, other);
          return other.readyConnection!.call(call);
        }
        picked = ep; // nothing ready: connect to it rather than asking the balancer again
      }
    }
    return this.#bounded(
      new PendingSend(desc, payload, decoder, opts, deadline, request, 0),
      (call) => this.#sendSlow(call, undefined, picked),
    );
  }

  /** Runs the slow path of `call`, then releases `call.bound` if a wait made one. */
  async #bounded(call: PendingSend, run: (call: PendingSend) => Promise<unknown>) {
    try {
      return await run(call);
    } finally {
      call.bound?.cleanup();
    }
  }

  /**
   * `p`, or the error of the call's deadline or signal as soon as one fires, saying which stage
   * it ended (`DEADLINE_EXCEEDED ... while connecting to host:port`); logged at DEBUG.
   */
  #stage<T>(call: PendingSend, p: Promise<T>, stage: () => string): Promise<T> {
    if (call.deadline === 0 && call.opts.signal === undefined) return p;
    call.bound ??= callSignal(call.opts.signal, call.deadline);
    return raceSignal(p, call.bound.signal, (reason) => {
      const base = RpcError.from(reason, Code.CANCELLED);
      const err = new RpcError(base.code, `${base.message} while ${stage()}`, { cause: reason });
      this.#logger.debug("call ended before it was sent", {
        method: `${call.desc.service}.${call.desc.name}`,
        error: err.message,
      });
      return err;
    });
  }

  async #sendWithRetries(call: PendingSend): Promise<unknown> {
    const { desc, opts, deadline } = call;
    const avoid = new Set<string>();
    let attemptsLeft = opts.retries ?? 0;
    for (;;) {
      try {
        return await this.#sendSlow(call, avoid);
      } catch (e) {
        const retryable = e instanceof RpcError && e.code === Code.UNAVAILABLE;
        if (!retryable || attemptsLeft-- <= 0 || (deadline > 0 && Date.now() >= deadline)) {
          throw e;
        }
        this.#logger.debug("retrying call", {
          method: `${desc.service}.${desc.name}`,
          error: (e as Error).message,
        });
      }
    }
  }

  async #sendSlow(
    call: PendingSend,
    avoid: Set<string> | undefined,
    picked?: Subchannel,
  ): Promise<unknown> {
    const { desc, opts, deadline } = call;
    const resolving = this.#directory.resolve(desc.service);
    const svc = resolving instanceof Promise
      ? await this.#stage(call, resolving, () => `resolving the providers of ${desc.service}`)
      : resolving;
    const tried = new Set<string>();
    let lastError: RpcError | undefined;
    for (;;) {
      if (this.#closed) throw new RpcError(Code.CANCELLED, "channel closed");
      if (opts.signal?.aborted) throw abortReason(opts.signal.reason);
      if (deadline > 0 && Date.now() >= deadline) {
        throw new RpcError(
          Code.DEADLINE_EXCEEDED,
          `deadline exceeded before the call was sent${lastError ? `: ${lastError.message}` : ""}`,
        );
      }
      const ep = picked !== undefined && svc.endpoints.includes(picked) && !tried.has(picked.key)
        ? picked
        : this.#choose(svc, tried, avoid, call);
      picked = undefined;
      if (ep === undefined) {
        throw lastError ??
          new RpcError(Code.UNAVAILABLE, `no provider available for service ${desc.service}`);
      }
      tried.add(ep.key);
      if ((opts as TracedOptions).span !== undefined) traceServer(opts, ep);
      let conn: ClientConnection;
      try {
        conn = await this.#connection(ep, call);
      } catch (e) {
        if (isGoingAway(e) && call.hops < MAX_NOT_STARTED_RESENDS) {
          // The provider closed the new connection as it opened (an idle close crossing it):
          // nothing was sent; the same provider may be tried again.
          call = call.again();
          tried.delete(ep.key);
          continue;
        }
        if (e instanceof RpcError && e.code === Code.UNAVAILABLE) {
          lastError = e;
          continue; // nothing was sent: try another provider transparently
        }
        throw e;
      }
      try {
        return await conn.call(call);
      } catch (e) {
        // A retry (if any) prefers another provider.
        if (e instanceof RpcError && e.code === Code.UNAVAILABLE) avoid?.add(ep.key);
        throw e;
      }
    }
  }

  #choose(
    svc: ServiceState,
    tried: Set<string>,
    avoid: Set<string> | undefined,
    call: {
      readonly desc: MethodDescriptor;
      readonly opts: CallOptions;
      readonly request: unknown;
    },
  ): Subchannel | undefined {
    const untried = svc.endpoints.filter((e) => !tried.has(e.key));
    if (untried.length === 0) return undefined;
    const now = Date.now();
    let pool = untried.filter((e) => e.downUntil <= now && !avoid?.has(e.key));
    if (pool.length === 0) pool = untried.filter((e) => e.downUntil <= now);
    if (pool.length === 0) {
      // Every provider is backing off: try the one whose backoff ends first, now.
      pool = [untried.reduce((a, b) => (a.downUntil <= b.downUntil ? a : b))];
    }
    return this.#balancer.pick(pool, this.#key(call.desc, call.opts, call.request));
  }

  #key(desc: MethodDescriptor, opts: CallOptions, request: unknown): string | undefined {
    if (opts.hashKey !== undefined) return opts.hashKey;
    const hk = this.#hashKey;
    if (hk === undefined) return undefined;
    if (typeof hk === "string") return opts.metadata?.[hk];
    return hk(desc.service, desc.name, request);
  }

  /** The connection to `ep`, ready, once the call's deadline and signal allow the wait. */
  async #connection(ep: Subchannel, call: PendingSend): Promise<ClientConnection> {
    const conn = ep.connection();
    if (!conn.ready) {
      // The attempt may be shared with calls whose deadlines are later: this call waits only
      // as long as its own deadline and signal allow.
      await this.#stage(
        call,
        conn.connect(),
        () =>
          conn.connected
            ? `waiting for ${ep.key} to answer the connection handshake`
            : `connecting to ${ep.key}`,
      );
    }
    return conn;
  }

  /**
   * Sends again a call that a provider never started (it answered "not started", or its GOAWAY
   * named an earlier last call): safe for every method, since no handler ran. Through the slow
   * path, so a going-away connection is replaced; bounded by the deadline and a hop count.
   */
  #sendAgain = (
    sent: OutgoingCall,
    error: RpcError,
    from: ClientConnection,
  ): Promise<unknown> | undefined => {
    const call = sent as PendingSend;
    if (this.#closed || call.hops >= MAX_NOT_STARTED_RESENDS) return undefined;
    const provider = from.key;
    this.#logger.debug("sending again a call the provider never started", {
      method: `${call.desc.service}.${call.desc.name}`,
      provider,
      error: error.message,
    });
    // Another provider if there is one; the same one (on a new connection) otherwise.
    // A fresh bound for the new attempt (the first one was released when that attempt ended).
    return this.#bounded(
      call.again(),
      (again) => this.#sendSlow(again, new Set([provider])),
    );
  };

  /** Starts connecting to `ep` in the background; returns the other ready providers, if any. */
  #readyOthers(healthy: Subchannel[], ep: Subchannel): Subchannel[] | undefined {
    let ready: Subchannel[] | undefined;
    for (const e of healthy) {
      if (e !== ep && e.readyConnection !== undefined) (ready ??= []).push(e);
    }
    if (ready !== undefined && !this.#closed) ep.warm();
    return ready;
  }
}

/** Puts the provider picked on a traced call's CLIENT span (a channel with a registry). */
function traceServer(opts: CallOptions, ep: Subchannel): void {
  setServerAddress((opts as TracedOptions).span!, ep.address);
}
