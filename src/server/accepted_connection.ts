/**
 * The provider's one seam between an accepted socket and the protocol that serves it: what the
 * provider needs of any connection it holds (its read-timeout sweep, draining and closing), and
 * what a protocol other than the native one provides to serve a connection.
 *
 * @module
 */
import type { Code, RpcError } from "../errors.ts";
import type { ByteStream } from "../transport/framed_connection.ts";
import type { PeerAddress } from "./call_context.ts";

/** A connection the provider holds, whichever protocol it speaks (or while it is sniffed). */
export interface AcceptedConnection {
  readonly peer: PeerAddress;
  /** `Date.now()` when the connection was accepted. */
  readonly createdAt: number;
  /** `Date.now()` of the last bytes received. */
  readonly lastReadAt: number;
  /** `Date.now()` since which an unfinished frame or request has been held, or 0. */
  readonly partialSince: number;
  /** Bytes of an unfinished frame or request held. */
  readonly partialBytes: number;
  /** Whether a complete frame or request has arrived. */
  readonly gotFrame: boolean;
  /** Calls being served. */
  readonly inflight: number;
  /** Starts reading. */
  start(): void;
  /**
   * Sends no new calls here: the native protocol says so with GOAWAY; a protocol without one
   * closes a connection that has no call running. With a `status`, the connection is refused.
   */
  goAway(status?: Code, message?: string): void;
  /** Fails every call in flight with `reason`. */
  abortAll(reason: RpcError): void;
  /** Closes (gracefully without `error`). Idempotent. */
  close(error?: unknown): Promise<void>;
}

/**
 * A protocol served on the provider's port next to the native one, told apart by the first
 * four bytes of a connection (anything but the native magic is this protocol's).
 */
export interface ServerProtocol {
  /** Serves `conn`, whose first bytes (`initial`) have already been read. */
  accept(conn: ByteStream, peer: PeerAddress, initial: Uint8Array): AcceptedConnection;
}
