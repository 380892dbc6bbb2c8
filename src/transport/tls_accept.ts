/**
 * Accepting TLS connections: handshakes run concurrently, off the accept loop, and only
 * connections whose handshake finished are handed to the provider.
 *
 * Deno (2.9) cannot release the socket of a TLS connection whose handshake has not finished:
 * `TlsConn.close()` before the handshake leaves the socket open until the peer sends something
 * or closes (in `Deno.listenTls` and in `node:tls` alike). A peer that connects and never sends
 * a ClientHello would so hold a file descriptor for as long as it likes. What bounds them here:
 * at most `maxPendingHandshakes` handshakes are in progress at once; at the limit no more
 * connections are accepted (they wait in the kernel's backlog) until one finishes or fails.
 *
 * @module
 */
import { errorMessage } from "../util/error_message.ts";
import { DEFAULT_READ_TIMEOUT_MS } from "../defaults.ts";
import type { Logger } from "../log/logger.ts";
import type { Accepted } from "./framed_connection.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { endpointKey } from "../util/endpoint_key.ts";

/** Default of `maxPendingHandshakes`: TLS handshakes in progress at most, per listener. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 256;

/** Options of {@linkcode TlsAcceptor}. */
export interface TlsAcceptorOptions {
  /** Handshakes in progress at most; default {@linkcode DEFAULT_MAX_PENDING_HANDSHAKES}. */
  maxPendingHandshakes?: number | undefined;
  /** A handshake not finished after this long is logged (once); default 30000 ms, 0 never. */
  handshakeTimeoutMs?: number | undefined;
  /** Where the limit and slow handshakes are logged. */
  logger?: Logger | undefined;
}

/**
 * Turns a `Deno.TlsListener` into a stream of connections whose TLS handshake is done.
 *
 * @example
 * ```ts ignore
 * const acceptor = new TlsAcceptor(Deno.listenTls({ port: 0, cert, key }), { maxPendingHandshakes: 64 });
 * const { conn, peer } = await acceptor.accept(); // handshake finished
 * acceptor.close();
 * ```
 */
export class TlsAcceptor {
  #listener: Deno.TlsListener;
  #max: number;
  #timeoutMs: number;
  #logger: Logger | undefined;
  #pending = new Set<Deno.TlsConn>();
  #ready: Accepted[] = [];
  #wake: (() => void) | undefined;
  #accepting: Promise<{ conn: Deno.TlsConn } | { error: unknown }> | undefined;
  #atLimit = false;
  #closed = false;

  /** Accepts from `listener`. */
  constructor(listener: Deno.TlsListener, options: TlsAcceptorOptions = {}) {
    this.#listener = listener;
    this.#max = options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    if (!Number.isInteger(this.#max) || this.#max < 1) {
      throw new RangeError(
        `maxPendingHandshakes must be an integer >= 1, got ${options.maxPendingHandshakes}`,
      );
    }
    this.#timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
    this.#logger = options.logger;
  }

  /** Handshakes in progress (sockets held for peers that have not finished one). */
  get pendingHandshakes(): number {
    return this.#pending.size;
  }

  /**
   * The next connection whose handshake finished. Rejects with what `accept()` of the listener
   * threw (e.g. out of file descriptors), or `BadResource` once closed. One caller at a time.
   */
  async accept(): Promise<Accepted> {
    for (;;) {
      const ready = this.#ready.shift();
      if (ready !== undefined) return ready;
      if (this.#closed) throw new Deno.errors.BadResource("the TLS listener is closed");
      const woken = new Promise<null>((resolve) => this.#wake = () => resolve(null));
      if (this.#pending.size >= this.#max) {
        if (!this.#atLimit) {
          this.#atLimit = true;
          this.#logger?.warn(
            "TLS handshakes in progress at the limit; not accepting until one ends",
            {
              limit: this.#max,
            },
          );
        }
        await woken;
        continue;
      }
      if (this.#atLimit) {
        this.#atLimit = false;
        this.#logger?.info("TLS handshakes below the limit; accepting again", { limit: this.#max });
      }
      this.#accepting ??= this.#listener.accept().then(
        (conn) => ({ conn }),
        (error) => ({ error }),
      );
      const got = await Promise.race([this.#accepting, woken]);
      if (got === null) continue; // a handshake ended; the accept stays in flight
      this.#accepting = undefined;
      if ("error" in got) throw got.error;
      this.#handshake(got.conn);
    }
  }

  /** Stops accepting and closes the connections still in their handshake. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.#listener);
    for (const c of this.#pending) closeQuietly(c);
    for (const r of this.#ready.splice(0)) closeQuietly(r.conn);
    this.#wake?.();
  }

  #handshake(conn: Deno.TlsConn): void {
    const r = conn.remoteAddr as Deno.NetAddr;
    const peer = { host: r.hostname, port: r.port };
    this.#pending.add(conn);
    const started = Date.now();
    // A late handshake is only logged: closing the connection would not free its socket.
    const timer = this.#timeoutMs > 0
      ? setTimeout(() => {
        this.#logger?.warn("TLS handshake not finished; its socket stays until the peer acts", {
          peer: endpointKey(peer),
          ms: Date.now() - started,
        });
      }, this.#timeoutMs)
      : undefined;
    const end = () => {
      clearTimeout(timer);
      this.#pending.delete(conn);
      this.#wake?.();
    };
    conn.handshake().then(
      () => {
        end();
        if (this.#closed) closeQuietly(conn);
        else this.#ready.push({ conn, peer });
        this.#wake?.();
      },
      (e) => {
        // The peer closed, sent something other than TLS, or failed verification: its socket
        // is released by this close.
        end();
        closeQuietly(conn);
        if (!this.#closed) {
          this.#logger?.debug("TLS handshake failed", {
            peer: endpointKey(peer),
            error: errorMessage(e),
          });
        }
      },
    );
  }
}
