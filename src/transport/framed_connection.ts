/**
 * One TCP (or TLS) connection speaking the native frame protocol: a read loop feeding a
 * {@linkcode FrameDecoder}, and a write path that coalesces every frame produced in a tick into
 * one write, with one write in flight at a time.
 *
 * @module
 */
import { type FrameCallback, FrameDecoder, type OversizeCallback } from "../wire/frame.ts";
import { FrameWriter, type Payload } from "../wire/frame_writer.ts";
import type { MetaFields } from "../wire/meta.ts";
import { closeQuietly } from "../util/close_quietly.ts";
import {
  type HeldReadBytes,
  ReceiveBuffer,
  type ReceiveBufferPool,
  type ReceiveLease,
  sharedReceivePool,
} from "./receive_buffers.ts";

/** First size of a connection's read buffer (small: idle connections cost little); it grows when reads fill it. */
const INITIAL_READ_BUFFER = 4 * 1024;
/** Largest read buffer (and default of `readBufferSize`). */
const MAX_READ_BUFFER = 256 * 1024;
/**
 * Bytes of an unfinished frame that count as progress: receiving this many restarts the clock of
 * {@linkcode FramedConnection.partialSince} (as does completing a frame), so a large frame that
 * keeps arriving is not taken for a stalled one, while a peer trickling a few bytes is.
 */
export const MIN_PROGRESS_BYTES = 1024;
/**
 * Default of `maxUnsentBytes`: a provider stops reading from a connection whose queued output
 * passes this, until half of it has been written.
 */
export const DEFAULT_MAX_UNSENT_BYTES = 1024 * 1024;
/**
 * A frame body with at least this many bytes still to come is read from the socket straight
 * into its own array, instead of through the read buffer and a copy.
 */
const DIRECT_READ_BYTES = 16 * 1024;
/**
 * Read buffers held by leases after the connection moved on from them, in bytes, past which
 * frames in the read buffer are no longer lent (they are copied out): a few small frames held
 * for long cannot pin many read buffers of up to 256 KiB each. Frames read into their own
 * array are lent whatever this count: the array is their size.
 */
export const MAX_HELD_READ_BYTES = 1024 * 1024;
/** Bytes of batched frames (`sendBatched`) that start a write without waiting any longer. */
const BATCH_BYTES = 64 * 1024;

/** Options of {@linkcode FramedConnection}. */
export interface FramedConnectionOptions {
  /** Largest frame body accepted. */
  maxMessageBytes: number;
  /** Called once per frame, synchronously from the read loop. */
  onFrame: FrameCallback;
  /**
   * Called with the meta of a frame over `maxMessageBytes` (its payload is skipped); without it,
   * such a frame closes the connection.
   */
  onOversize?: OversizeCallback | undefined;
  /** Called once when the connection ends; `error` is why, if it was not a clean close. */
  onClose: (error: unknown) => void;
  /** Bytes already read from the socket (e.g. while sniffing the protocol). */
  initial?: Uint8Array | undefined;
  /** Largest size of the reused read buffer (it starts at 4 KiB); default 256 KiB. */
  readBufferSize?: number;
  /**
   * Decode every frame's meta into one reused object: `onFrame` and `onOversize` must not keep
   * `meta` past their return (a caller's connection, which reads what it needs at once).
   */
  reuseMeta?: boolean | undefined;
  /**
   * Let `onFrame` borrow the buffer a frame was received in ({@linkcode FramedConnection.lend}),
   * so a payload can be decoded as views instead of copied. Off by default.
   */
  lendBuffers?: boolean | undefined;
  /**
   * Backpressure: while more than this many bytes wait to be written (the peer does not read
   * what it asked for), stop reading from the peer; resume once half of it has been written.
   * Default: never stop reading (a caller's connection, whose reads only free memory).
   */
  maxUnsentBytes?: number | undefined;
}

/** The part of `Deno.Conn` a connection needs (TCP and TLS both fit). */
export interface ByteStream {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  /** Half-closes: sends FIN and keeps reading (TCP and TLS have it). */
  closeWrite?(): Promise<void>;
}

/** An accepted stream and its peer. */
export interface Accepted {
  conn: ByteStream & { setNoDelay?: (on?: boolean) => void };
  peer: { host: string; port: number };
}

/**
 * A framed, coalescing connection.
 *
 * @example
 * ```ts ignore
 * const fc = new FramedConnection(await Deno.connect({ port }), { maxMessageBytes, onFrame, onClose });
 * fc.start();
 * fc.send({ kind: 3, callId: 1 }); // PING
 * await fc.close();
 * ```
 */
export class FramedConnection {
  #conn: ByteStream;
  #decoder: FrameDecoder;
  #writer = new FrameWriter();
  #onClose: (error: unknown) => void;
  #readBufferSize: number;
  #readBuf: Uint8Array;
  /** With `lendBuffers`: the pool, the read buffer's lease count, the body being filled. */
  #pool: ReceiveBufferPool | undefined;
  /** This connection's read buffers moved on from while still lent. */
  #held: HeldReadBytes = { heldReadBytes: 0 };
  #readOwner: ReceiveBuffer | undefined;
  #bodyOwner: ReceiveBuffer | undefined;
  /** The buffer of the frame being handed to `onFrame` (undefined outside the callback). */
  #frameOwner: ReceiveBuffer | undefined;
  /** What `push` is fed from: the read buffer, or undefined for the sniffed bytes. */
  #pushOwner: ReceiveBuffer | undefined;
  #initial: Uint8Array | undefined;
  #readLoop: Promise<void> | undefined;
  #writeLoop: Promise<void> | undefined;
  #flushScheduled = false;
  /** The macrotask that flushes frames queued by {@linkcode FramedConnection.sendBatched}. */
  #batchTimer: ReturnType<typeof setImmediate> | undefined;
  /** Frames are queued that must not wait for a batch to fill (`send`, `flush`). */
  #urgent = false;
  #closed = false;
  #writeClosed = false;
  #closeError: unknown;
  #drainWaiters: Array<() => void> = [];
  /** Bytes of the write in flight not yet accepted by the socket. */
  #writing = 0;
  #maxUnsent: number;
  /** Wakes the read loop paused by backpressure. */
  #resumeRead: (() => void) | undefined;
  /** `Date.now()` of the last bytes read. */
  lastReadAt: number = Date.now();
  /** `Date.now()` of the last frame received. */
  lastFrameAt: number = Date.now();
  /**
   * `Date.now()` since which an unfinished frame has been held without progress (no frame
   * completed and fewer than {@linkcode MIN_PROGRESS_BYTES} received), or 0.
   */
  partialSince = 0;
  /** Bytes received since `partialSince` was last set. */
  #progressBytes = 0;
  /** Frames received. */
  frames = 0;
  /**
   * Largest frame body the peer accepts (it says so in the handshake); larger frames are not
   * sent. `Infinity` until known.
   */
  peerMaxMessageBytes = Infinity;

  /** Wraps an open stream; call {@linkcode FramedConnection.start} to begin reading. */
  constructor(conn: ByteStream, options: FramedConnectionOptions) {
    this.#conn = conn;
    const onFrame = options.onFrame;
    const onOversize = options.onOversize;
    this.#onClose = options.onClose;
    this.#readBufferSize = options.readBufferSize ?? MAX_READ_BUFFER;
    const readSize = Math.min(INITIAL_READ_BUFFER, this.#readBufferSize);
    this.#readBuf = new Uint8Array(readSize);
    this.#decoder = new FrameDecoder(
      options.maxMessageBytes,
      (meta, payload, owned) => {
        this.lastFrameAt = this.lastReadAt;
        this.frames++;
        if (this.#pool === undefined) {
          onFrame(meta, payload, owned);
          return;
        }
        const owner = this.#frameOwner = owned
          ? this.#bodyOwner
          : this.#held.heldReadBytes < MAX_HELD_READ_BYTES
          ? this.#pushOwner
          : undefined;
        try {
          onFrame(meta, payload, owned);
        } finally {
          this.#frameOwner = undefined;
          if (owned && owner !== undefined) {
            this.#bodyOwner = undefined;
            this.#pool.done(owner);
          }
        }
      },
      onOversize && ((meta, bodyLength) => {
        this.lastFrameAt = this.lastReadAt;
        this.frames++;
        // A body collected for an oversize frame's meta is never lent: it stays unpooled.
        this.#bodyOwner = undefined;
        onOversize(meta, bodyLength);
      }),
      {
        reuseMeta: options.reuseMeta,
        allocBody: (length) => {
          if (this.#pool === undefined) return new Uint8Array(length);
          const owner = this.#bodyOwner = this.#pool.take(length);
          return owner.bytes.subarray(0, length);
        },
      },
    );
    if (options.lendBuffers === true) this.startLending();
    this.#initial = options.initial;
    this.#maxUnsent = options.maxUnsentBytes ?? Infinity;
  }

  /** Bytes queued or being written that the socket has not accepted yet. */
  get unsentBytes(): number {
    return this.#writer.length + this.#writing;
  }

  /** Whether reading is paused because too much output waits (see `maxUnsentBytes`). */
  get readPaused(): boolean {
    return this.#resumeRead !== undefined;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes of an unfinished incoming frame held in memory. */
  get partialBytes(): number {
    return this.#decoder.buffered;
  }

  /**
   * From now on, let `onFrame` borrow receive buffers ({@linkcode FramedConnection.lend}), as the
   * `lendBuffers` option does from the start. Idempotent.
   */
  startLending(): void {
    if (this.#pool !== undefined) return;
    const pool = this.#pool = sharedReceivePool();
    this.#readOwner = new ReceiveBuffer(pool, this.#readBuf);
  }

  /**
   * Called from `onFrame` (with `lendBuffers`, or after `startLending`): takes a lease on the
   * buffer the frame's payload is in, which is then not read into again until the lease is
   * released, so the payload (and views into it) stay valid past the callback. Undefined (copy
   * then) when lending is off, outside `onFrame`, when the payload is in bytes the connection
   * was given (`initial`) or read before lending started, or when it is in the read buffer while
   * {@linkcode MAX_HELD_READ_BYTES} of earlier read buffers are still lent.
   */
  lend(): ReceiveLease | undefined {
    return this.#frameOwner?.lend();
  }

  /** Starts the read loop. */
  start(): void {
    this.#readLoop ??= this.#read();
  }

  /**
   * Queues a frame; frames queued in the same tick leave in one write. Returns false, queuing
   * nothing, when the frame's body is over {@linkcode FramedConnection.peerMaxMessageBytes}.
   * (After the connection closed, or its writing side did, frames are dropped.)
   */
  send(fields: MetaFields, payload?: Payload): boolean {
    if (this.#closed || this.#writeClosed) return true;
    if (!this.#writer.writeFrame(fields, payload, this.peerMaxMessageBytes)) return false;
    this.#urgent = true;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#scheduleFlush);
    }
    return true;
  }

  /**
   * Queues a frame like {@linkcode FramedConnection.send}, but lets it wait until the end of
   * this turn of the event loop (a `setImmediate`), until 64 KiB are queued, or
   * until an earlier flush, before it is written: a producer yielding one message per microtask
   * (an async generator) fills one write with many frames instead of making one small write
   * each, also while earlier writes complete. For stream messages, whose pace credit flow
   * control already sets; unary frames use `send`.
   */
  sendBatched(fields: MetaFields, payload?: Payload): boolean {
    if (this.#closed || this.#writeClosed) return true;
    if (!this.#writer.writeFrame(fields, payload, this.peerMaxMessageBytes)) return false;
    if (this.#writer.length >= BATCH_BYTES) this.flush();
    else this.#batchTimer ??= setImmediate(this.#batchFlush);
    return true;
  }

  /** Starts writing what is queued now (frames queued by `sendBatched` would wait otherwise). */
  flush(): void {
    if (this.#closed || this.#writer.length === 0) return;
    this.#urgent = true;
    this.#cancelBatchFlush();
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#scheduleFlush);
  }

  #batchFlush = (): void => {
    this.#batchTimer = undefined;
    this.flush();
  };

  #cancelBatchFlush(): void {
    if (this.#batchTimer === undefined) return;
    clearImmediate(this.#batchTimer);
    this.#batchTimer = undefined;
  }

  /** Resolves when every frame queued so far has been written (or the connection ended). */
  drain(): Promise<void> {
    if (
      this.#closed ||
      (!this.#flushScheduled && this.#batchTimer === undefined && this.#writer.length === 0)
    ) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Ends the connection without losing what the peer has yet to read: writes what is queued,
   * half-closes (FIN), then reads (and hands to `onFrame`, whose answers are dropped) until the
   * peer closes its side or `lingerMs` passes, and closes. Closing a socket whose receive buffer
   * holds unread bytes would send a RST, and the peer could lose the frames written just before.
   */
  async finish(lingerMs: number): Promise<void> {
    await this.drain();
    if (this.#closed) return;
    const closeWrite = this.#conn.closeWrite;
    if (closeWrite !== undefined && !this.#writeClosed) {
      this.#writeClosed = true;
      try {
        await closeWrite.call(this.#conn);
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          this.#readLoop,
          new Promise<void>((r) => timer = setTimeout(r, lingerMs)),
        ]);
        clearTimeout(timer);
      } catch {
        // The peer is gone already: nothing left to protect.
      }
    }
    await this.close();
  }

  /**
   * Ends the connection: closes the socket and waits for the read and write loops to stop.
   * Idempotent. `error` is passed to `onClose` as the reason.
   */
  async close(error?: unknown): Promise<void> {
    this.#shutdown(error);
    await this.#readLoop;
    await this.#writeLoop;
  }

  #scheduleFlush = (): void => {
    if (this.#writeLoop === undefined) this.#writeLoop = this.#flush();
  };

  async #flush(): Promise<void> {
    try {
      while (this.#writer.length > 0 && !this.#closed) {
        // Only batched frames, fewer than a batch: they wait for the end of the turn.
        if (!this.#urgent && this.#writer.length < BATCH_BYTES) break;
        this.#urgent = false;
        const chunk = this.#writer.take();
        // Frames queued by sendBatched leave with this write: their turn-end flush is moot.
        this.#cancelBatchFlush();
        // Frames queued from now on are coalesced into the next write.
        this.#flushScheduled = true;
        let off = 0;
        this.#writing = chunk.length;
        while (off < chunk.length) {
          off += await this.#conn.write(chunk.subarray(off));
          this.#writing = chunk.length - off;
          if (this.#resumeRead !== undefined && this.unsentBytes <= this.#maxUnsent / 2) {
            this.#resumeRead();
          }
        }
        this.#writer.release(chunk);
      }
    } catch (e) {
      this.#shutdown(e);
    } finally {
      this.#writing = 0;
      this.#writeLoop = undefined;
      this.#flushScheduled = false;
      if (
        this.#writer.length > 0 && !this.#closed &&
        (this.#urgent || this.#writer.length >= BATCH_BYTES)
      ) {
        this.#flushScheduled = true;
        this.#writeLoop = this.#flush();
      } else if (this.#writer.length > 0 && !this.#closed) {
        this.#batchTimer ??= setImmediate(this.#batchFlush); // batched frames: end of the turn
      } else {
        const waiters = this.#drainWaiters;
        this.#drainWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  async #read(): Promise<void> {
    try {
      if (this.#initial !== undefined) {
        const initial = this.#initial;
        this.#initial = undefined;
        this.#decoder.push(initial);
        // A frame left unfinished by the sniffed bytes is timed like any other.
        if (this.#decoder.buffered > 0) this.partialSince = Date.now();
      }
      while (!this.#closed) {
        if (this.unsentBytes > this.#maxUnsent) {
          await this.#writable();
          if (this.#closed) break;
        }
        const direct = this.#decoder.pendingBody(DIRECT_READ_BYTES);
        if (direct === undefined && (this.#readOwner?.leases ?? 0) > 0) {
          // Frames of the read buffer are lent: read into another one until they come back.
          this.#replaceReadBuffer(this.#readBuf.length);
        }
        const n = await this.#conn.read(direct ?? this.#readBuf);
        if (n === null) break;
        const now = this.lastReadAt = Date.now();
        const framesBefore = this.frames;
        if (direct !== undefined) this.#decoder.advance(n);
        else {
          this.#pushOwner = this.#readOwner;
          this.#decoder.push(this.#readBuf.subarray(0, n));
        }
        if (this.#decoder.buffered === 0) this.partialSince = 0;
        else if (
          this.partialSince === 0 || this.frames !== framesBefore ||
          (this.#progressBytes += n) >= MIN_PROGRESS_BYTES
        ) {
          // A new unfinished frame, or progress on one: its clock starts again.
          this.partialSince = now;
          this.#progressBytes = 0;
        }
        if (direct === undefined && n === this.#readBuf.length && n < this.#readBufferSize) {
          // A full read: more is waiting; read in bigger gulps from now on.
          this.#replaceReadBuffer(Math.min(n * 4, this.#readBufferSize));
        }
      }
      this.#shutdown(undefined);
    } catch (e) {
      this.#shutdown(e);
    }
  }

  /**
   * Reads into a new buffer of `size` bytes from now on: a pooled one while lending (the old one
   * goes back once nothing of it is lent any more), else a new array.
   */
  #replaceReadBuffer(size: number): void {
    const old = this.#readOwner;
    if (old === undefined) {
      this.#readBuf = new Uint8Array(size);
      return;
    }
    this.#readOwner = this.#pool!.take(size);
    this.#readBuf = this.#readOwner.bytes.subarray(0, size);
    this.#pool!.done(old, this.#held);
  }

  /** Waits until the output has drained to half of `maxUnsentBytes`, or the connection ends. */
  #writable(): Promise<void> {
    const pausedAt = Date.now();
    return new Promise<void>((resolve) => {
      this.#resumeRead = () => {
        this.#resumeRead = undefined;
        // Time spent not reading is not the peer's stall.
        if (this.partialSince > 0) this.partialSince += Date.now() - pausedAt;
        resolve();
      };
    });
  }

  #shutdown(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#cancelBatchFlush();
    this.#resumeRead?.();
    closeQuietly(this.#conn);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
    this.#onClose(this.#closeError);
  }
}
