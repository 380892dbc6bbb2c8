/**
 * One provider as a channel sees it, and the one owner of its state: the connection (opening,
 * ready, gone), its health (consecutive failures, backoff out of rotation) and background
 * warm-up. The balancer only reads it; the directory only lists it.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { endpointKey } from "../util/endpoint_key.ts";
import type { Candidate } from "./balancer.ts";
import { type ClientConnection, isGoingAway } from "./client_connection.ts";

/** What a health check answered: a `HealthCheckResponse` status name, or the call's error. */
export type HealthAnswer = string | RpcError;

/** Longest time a failing provider stays out of rotation before it is tried again. */
export const MAX_BACKOFF_MS = 2_000;

/** What a subchannel needs from its pool. */
export interface SubchannelHost {
  /** Opens (lazily) a new connection to `sub`; `onGone` runs when it stops taking calls. */
  open(sub: Subchannel, onGone: (conn: ClientConnection) => void): ClientConnection;
  /** Runs `work` in the background; the pool's `close()` awaits it. */
  background(work: Promise<void>): void;
  /** The provider went in or out of rotation. */
  healthChanged(): void;
  /**
   * With the channel's `healthCheck`: asks `conn`'s provider `mprpc.health.v1.Health/Check`;
   * undefined when health checks are off.
   */
  readonly checkHealth?: ((conn: ClientConnection) => Promise<HealthAnswer>) | undefined;
  /** Whether the channel is closed (nothing starts after that). */
  readonly closed?: boolean;
  /** No service lists `sub` any more. */
  retired?(sub: Subchannel): void;
  readonly logger: Logger;
}

/**
 * One provider: shared by every service of the channel that lists it.
 *
 * @example What the native caller does with a picked provider
 * ```ts ignore
 * const conn = sub.readyConnection ?? sub.connection(); // opens one when there is none
 * if (!conn.ready) await conn.connect();
 * ```
 */
export class Subchannel implements Candidate {
  /** `host:port` (IPv6 in brackets). */
  readonly key: string;
  /** Balancing weight (≥ 1), as the registry lists it. */
  weight: number;
  #host: SubchannelHost;
  #conn: ClientConnection | undefined;
  #downUntil = 0;
  #failures = 0;
  #warming = false;
  /** A health check answered something other than `SERVING`: out of rotation until it does. */
  #notServing = false;
  #checking = false;
  #checkedAt = 0;

  /** Creates the state of one provider; nothing connects until a call needs it. */
  constructor(
    host: SubchannelHost,
    readonly address: { readonly host: string; readonly port: number },
    weight: number,
  ) {
    this.#host = host;
    this.key = endpointKey(address);
    this.weight = weight;
  }

  /** Calls in flight to it. */
  get inflight(): number {
    return this.#conn?.inflight ?? 0;
  }

  /**
   * Out of rotation until this `Date.now()` time (0: in rotation); `Infinity` while its health
   * check answers other than `SERVING`.
   */
  get downUntil(): number {
    return this.#notServing ? Infinity : this.#downUntil;
  }

  /** Its last health check answered other than `SERVING` (with the channel's `healthCheck`). */
  get notServing(): boolean {
    return this.#notServing;
  }

  /** Consecutive failures (connects, handshakes, pings). */
  get failures(): number {
    return this.#failures;
  }

  /** The connection, when it is ready for calls (the hot path: no I/O, no allocation). */
  get readyConnection(): ClientConnection | undefined {
    const conn = this.#conn;
    return conn !== undefined && conn.ready ? conn : undefined;
  }

  /**
   * The connection for a call: the current one, or a new one whose attempt has started. The
   * provider's health follows the attempt itself, once, whether or not a call still waits for
   * it (calls may all have hit their deadlines first).
   */
  connection(): ClientConnection {
    let conn = this.#conn;
    if (conn === undefined || conn.gone) {
      conn = this.#host.open(this, (c) => this.#gone(c));
      this.#conn = conn;
      // A GOAWAY answering the handshake is a provider going away gracefully, not a failure
      // to back off from.
      void conn.connect().then(
        () => {
          this.#markUp();
          this.checkHealth(); // a new connection: ask at once
        },
        (e) => {
          if (e instanceof RpcError && e.code === Code.UNAVAILABLE && !isGoingAway(e)) {
            this.#markDown(e);
          }
        },
      );
    }
    return conn;
  }

  /** Connects in the background (once at a time), so no call waits for the handshake. */
  warm(): void {
    if (this.#warming) return;
    this.#warming = true;
    const conn = this.connection();
    const p = conn.ready ? Promise.resolve() : conn.connect();
    this.#host.background(
      p.then(
        () => {},
        () => {}, // already logged and put into backoff by connection()
      ).finally(() => this.#warming = false),
    );
  }

  /** No service lists it any more: calls in flight finish, the connection closes when idle. */
  retire(): void {
    this.#conn?.retire();
    this.#host.retired?.(this);
  }

  /**
   * With the channel's `healthCheck`: asks the provider's health on the current connection (one
   * check at a time; also on a connection told to go away, since providers answer health checks
   * while they drain). A provider not serving is reconnected to, so it is asked again.
   */
  checkHealth(now = Date.now()): void {
    const check = this.#host.checkHealth;
    if (check === undefined || this.#checking) return;
    const conn = this.#conn;
    if (conn === undefined || !conn.connected || conn.gone && conn.inflight === 0) {
      if (this.#notServing && !this.#host.closed) this.warm();
      return;
    }
    if (conn.connected && !conn.ready && !conn.gone) return; // handshake pending: asked after it
    this.#checking = true;
    this.#checkedAt = now;
    this.#host.background(
      check(conn).then((answer) => this.#healthAnswered(answer)).finally(() =>
        this.#checking = false
      ),
    );
  }

  /** When the last health check was sent (`Date.now()`), 0 for never. */
  get checkedAt(): number {
    return this.#checkedAt;
  }

  #healthAnswered(answer: HealthAnswer): void {
    let serving: boolean;
    if (typeof answer === "string") serving = answer === "SERVING";
    else if (answer.code === Code.UNIMPLEMENTED) serving = true; // a provider without health
    else return; // no verdict (connection lost, deadline): liveness handles those
    if (serving === !this.#notServing) return;
    this.#notServing = !serving;
    this.#host.healthChanged();
    if (serving) this.#host.logger.info("provider serving again", { provider: this.key });
    else {
      this.#host.logger.warn("provider not serving, out of rotation", {
        provider: this.key,
        status: answer as string,
      });
    }
  }

  #gone(conn: ClientConnection): void {
    if (this.#conn === conn) this.#conn = undefined;
    if (conn.livenessFailed) {
      // A frozen process still completes TCP handshakes: keep it out of rotation until a new
      // connection's handshake (a PING answered) proves it is back.
      this.#markDown(
        new RpcError(Code.UNAVAILABLE, `provider ${this.key} stopped answering pings`),
      );
    }
  }

  /** Out of rotation with a backoff that doubles per failure (100 ms … 2 s). */
  #markDown(err: RpcError): void {
    this.#failures++;
    const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.#failures - 1, 10));
    this.#downUntil = Date.now() + backoff * (0.8 + Math.random() * 0.4);
    this.#host.healthChanged();
    this.#host.logger.warn("provider unreachable, out of rotation", {
      provider: this.key,
      backoffMs: Math.round(backoff),
      error: err.message,
    });
  }

  /** Back into rotation after a successful connection. */
  #markUp(): void {
    if (this.#failures === 0) return;
    this.#failures = 0;
    this.#downUntil = 0;
    this.#host.healthChanged();
    this.#host.logger.info("provider reachable again", { provider: this.key });
  }
}
