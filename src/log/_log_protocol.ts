/**
 * Messages exchanged between {@linkcode AsyncLogger} (main thread) and its writer Worker.
 * Internal: not part of the public API.
 *
 * @module
 */

/** Main thread → Worker: append `length` bytes of `buffer` to the file at `path`. */
export interface WriteMessage {
  type: "write";
  id: number;
  path: string;
  /** Transferred (not copied); handed back in the {@linkcode AckMessage}. */
  buffer: ArrayBuffer;
  length: number;
}

/** Main thread → Worker: close the open file and reply {@linkcode ClosedMessage}. */
export interface CloseMessage {
  type: "close";
}

/** Worker → main thread: batch `id` was written (or failed with `error`). */
export interface AckMessage {
  type: "ack";
  id: number;
  /** The batch buffer, transferred back so the main thread can reuse it. */
  buffer: ArrayBuffer;
  error?: string | undefined;
}

/** Worker → main thread: the file is closed; the Worker may be terminated. */
export interface ClosedMessage {
  type: "closed";
}

/** What the Worker receives. */
export type ToWriter = WriteMessage | CloseMessage;
/** What the Worker sends. */
export type FromWriter = AckMessage | ClosedMessage;
