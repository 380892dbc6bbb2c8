/**
 * The connections of one channel: opens them for its {@linkcode Subchannel}s, pings them
 * (keepalive), runs background warm-ups, and closes them all.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { TlsClientOptions } from "../transport/listen.ts";
import { DeadlineWheel } from "../util/deadline_wheel.ts";
import { ClientConnection, type ClientConnectionOptions } from "./client_connection.ts";
import { OutgoingCall } from "./outgoing_call.ts";
import { type HealthAnswer, Subchannel, type SubchannelHost } from "./subchannel.ts";
import { healthService } from "../ops/health_service.ts";
import { describeMethod, type MethodDescriptor } from "../schema/method_descriptor.ts";

/** Options of {@linkcode SubchannelPool}. */
export interface SubchannelPoolOptions {
  maxMessageBytes: number;
  logger: Logger;
  connectTimeoutMs: number;
  /** Ping a connection after this long without hearing from it, ms; 0 = off. */
  keepaliveMs: number;
  /** Close a connection whose ping is unanswered this long, ms. */
  keepaliveTimeoutMs: number;
  tls?: TlsClientOptions | undefined;
  /** A call a provider never started: send it again (see {@linkcode ClientConnectionOptions}). */
  onNotStarted: ClientConnectionOptions["onNotStarted"];
  /**
   * Ask each provider `mprpc.health.v1.Health/Check` after every connection handshake and every
   * `keepaliveMs`, and keep providers not `SERVING` out of rotation. Default false.
   */
  healthCheck?: boolean | undefined;
  /** Metadata sent with the health checks (the channel's, e.g. an auth token). */
  metadata?: Record<string, string> | undefined;
  /** See {@linkcode ClientConnectionOptions.onStreamNotStarted}. */
  onStreamNotStarted?: ClientConnectionOptions["onStreamNotStarted"];
}

/** How long a health check may take before it gives no verdict, ms. */
export const HEALTH_CHECK_TIMEOUT_MS = 5_000;

/**
 * Owns every connection of a channel and the timers around them.
 *
 * @example
 * ```ts ignore
 * const pool = new SubchannelPool({ maxMessageBytes, logger, connectTimeoutMs, ... });
 * const sub = pool.subchannel({ host: "127.0.0.1", port: 8000 }, 1);
 * await sub.connection().connect();
 * await pool.close();
 * ```
 */
export class SubchannelPool implements SubchannelHost {
  /** Grows each time a provider goes in or out of rotation (lists of healthy ones are stale). */
  epoch = 0;
  readonly logger: Logger;
  #o: SubchannelPoolOptions;
  #wheel = new DeadlineWheel();
  #connections = new Set<ClientConnection>();
  #background = new Set<Promise<void>>();
  #subchannels = new Set<Subchannel>();
  #check: MethodDescriptor | undefined;
  /** See {@linkcode SubchannelHost.checkHealth}. */
  readonly checkHealth: ((conn: ClientConnection) => Promise<HealthAnswer>) | undefined;
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  /** Subchannels that have had a connection (a new one to them is a reconnection). */
  #opened = new WeakSet<Subchannel>();
  /** Connections opened to a provider after an earlier one to it (for metrics). */
  reconnects = 0;

  /** Open connections. */
  get size(): number {
    return this.#connections.size;
  }

  /** Creates the pool; nothing connects until a subchannel needs it. */
  constructor(options: SubchannelPoolOptions) {
    this.#o = options;
    this.logger = options.logger;
    this.checkHealth = options.healthCheck ? (conn) => this.#checkHealth(conn) : undefined;
  }

  /** A new subchannel for the provider at `address`. */
  subchannel(address: { host: string; port: number }, weight: number): Subchannel {
    const sub = new Subchannel(this, address, weight);
    if (this.checkHealth !== undefined) this.#subchannels.add(sub);
    return sub;
  }

  /** `sub` is listed by no service any more: its health is not checked again. */
  retired(sub: Subchannel): void {
    this.#subchannels.delete(sub);
  }

  /** Opens a connection to `sub` (lazily: its `connect()` starts the attempt). */
  open(sub: Subchannel, onGone: (conn: ClientConnection) => void): ClientConnection {
    const o = this.#o;
    const conn = new ClientConnection({
      host: sub.address.host,
      port: sub.address.port,
      maxMessageBytes: o.maxMessageBytes,
      wheel: this.#wheel,
      logger: o.logger,
      tls: o.tls,
      connectTimeoutMs: o.connectTimeoutMs,
      onGone,
      onClosed: (c) => this.#connections.delete(c),
      onNotStarted: o.onNotStarted,
      onStreamNotStarted: o.onStreamNotStarted,
    });
    if (this.#opened.has(sub)) this.reconnects++;
    else this.#opened.add(sub);
    this.#connections.add(conn);
    this.#startKeepalive();
    return conn;
  }

  /** Sends `Health/Check({ service: "" })` on `conn`; resolves with the status or the error. */
  #checkHealth(conn: ClientConnection): Promise<HealthAnswer> {
    const desc = this.#check ??= describeMethod(healthService().methods["Check"]!);
    return conn.call(
      new OutgoingCall(
        desc,
        desc.request.encode({ service: "" }),
        desc.response,
        Date.now() + HEALTH_CHECK_TIMEOUT_MS,
        { metadata: this.#o.metadata },
        // Never sent again elsewhere: the question is about this provider.
        Number.MAX_SAFE_INTEGER,
        true,
      ),
    ).then(
      (res) => String((res as { status: unknown }).status),
      (e) => RpcError.from(e, Code.UNKNOWN),
    );
  }

  /** Runs `work` in the background; `close()` awaits it. Nothing starts after `close()`. */
  background(work: Promise<void>): void {
    const p: Promise<void> = work.finally(() => this.#background.delete(p));
    this.#background.add(p);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A provider went in or out of rotation. */
  healthChanged(): void {
    this.epoch++;
  }

  /** Fails the calls in flight with `CANCELLED` and closes every connection. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#keepaliveTimer !== undefined) clearInterval(this.#keepaliveTimer);
    const reason = new RpcError(Code.CANCELLED, "channel closed");
    // A connection leaves #connections only once fully closed, so this awaits every socket.
    await Promise.all([...this.#connections].map((c) => c.close(reason)));
    await Promise.all([...this.#background]);
    this.#wheel.close();
  }

  #startKeepalive(): void {
    const { keepaliveMs, keepaliveTimeoutMs } = this.#o;
    if (this.#keepaliveTimer !== undefined || keepaliveMs <= 0) return;
    const every = Math.max(5, Math.min(keepaliveMs, keepaliveTimeoutMs) / 2);
    this.#keepaliveTimer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#connections) c.keepalive(now, keepaliveMs, keepaliveTimeoutMs);
      for (const s of this.#subchannels) {
        if (now - s.checkedAt >= keepaliveMs) s.checkHealth(now);
      }
    }, every);
    Deno.unrefTimer(this.#keepaliveTimer as unknown as number);
  }
}
