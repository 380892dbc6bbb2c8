/**
 * Reads the first four bytes of an accepted connection to tell which protocol it speaks, when
 * the provider serves another protocol next to the native one on its port.
 *
 * @module
 */
import { errorMessage } from "../util/error_message.ts";
import type { Logger } from "../log/logger.ts";
import type { ByteStream } from "../transport/framed_connection.ts";
import type { Code, RpcError } from "../errors.ts";
import type { AcceptedConnection } from "./accepted_connection.ts";
import type { PeerAddress } from "./call_context.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import { endpointKey } from "../util/endpoint_key.ts";

/** Bytes that tell the protocols apart (the native magic's length). */
export const SNIFF_BYTES = 4;

/** Options of {@linkcode Sniffer}. */
export interface SnifferOptions {
  logger: Logger;
  /** The first bytes arrived: serve `conn` with the protocol they name. */
  onSniffed(sniffer: Sniffer, conn: ByteStream, head: Uint8Array): void;
  /** The connection ended before its first bytes arrived. */
  onClosed(sniffer: Sniffer): void;
}

/**
 * An accepted connection whose protocol is not known yet: held by the provider (and timed by
 * its read-timeout sweep) like any other until its first {@linkcode SNIFF_BYTES} bytes arrive.
 *
 * @example What the provider does with each accepted connection
 * ```ts ignore
 * const sniffer = new Sniffer(conn, peer, { logger, onSniffed, onClosed });
 * connections.add(sniffer);
 * sniffer.start(); // -> onSniffed(sniffer, conn, firstBytes)
 * ```
 */
export class Sniffer implements AcceptedConnection {
  readonly peer: PeerAddress;
  readonly createdAt: number = Date.now();
  lastReadAt: number = Date.now();
  #partialSince = 0;
  #conn: ByteStream;
  #o: SnifferOptions;
  #head: Uint8Array = new Uint8Array(0);
  #done = false;
  #reading: Promise<void> | undefined;

  /** Wraps an accepted stream; call {@linkcode Sniffer.start} to begin. */
  constructor(conn: ByteStream, peer: PeerAddress, options: SnifferOptions) {
    this.#conn = conn;
    this.peer = peer;
    this.#o = options;
  }

  /** Always 0: no call runs before the protocol is known. */
  get inflight(): number {
    return 0;
  }

  /** Always false: no frame is complete before the protocol is known. */
  get gotFrame(): boolean {
    return false;
  }

  /** Bytes read so far. */
  get partialBytes(): number {
    return this.#head.length;
  }

  /** `Date.now()` of the first byte, or 0 (the first bytes are fewer than one progress unit). */
  get partialSince(): number {
    return this.#partialSince;
  }

  /** Starts reading. */
  start(): void {
    this.#reading ??= this.#read();
  }

  /** Closes: no protocol was chosen, so no call can be running. */
  goAway(_status?: Code, _message?: string): void {
    this.#end("provider is shutting down");
  }

  /** Closes (no call can be running). */
  abortAll(_reason: RpcError): void {
    this.#end("provider is shutting down");
  }

  /** Closes the socket unless it was handed to a protocol. Idempotent. */
  async close(_error?: unknown): Promise<void> {
    this.#end("closed by the provider");
    await this.#reading;
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(SNIFF_BYTES);
    try {
      while (!this.#done) {
        const n = await this.#conn.read(buf.subarray(this.#head.length));
        if (this.#done) return;
        if (n === null) {
          this.#o.logger.debug("connection closed before sending anything", {
            peer: endpointKey(this.peer),
          });
          this.#end(undefined);
          return;
        }
        this.lastReadAt = Date.now();
        if (this.#partialSince === 0) this.#partialSince = this.lastReadAt;
        this.#head = buf.subarray(0, this.#head.length + n);
        if (this.#head.length === SNIFF_BYTES) {
          this.#done = true;
          this.#o.onSniffed(this, this.#conn, this.#head);
          return;
        }
      }
    } catch (e) {
      if (this.#done) return;
      this.#o.logger.debug("connection error", {
        peer: endpointKey(this.peer),
        error: errorMessage(e),
      });
      this.#end(undefined);
    }
  }

  #end(why: string | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (why !== undefined) {
      this.#o.logger.debug(`closing connection: ${why}`, { peer: endpointKey(this.peer) });
    }
    closeQuietly(this.#conn);
    this.#o.onClosed(this);
  }
}
