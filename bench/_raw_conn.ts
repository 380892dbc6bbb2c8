/**
 * The raw TCP ceiling's connection: frames are a 4-byte big-endian length then the payload (the
 * original C++ mprpc's framing idea, without any meta). Done the fast way: TCP_NODELAY, one
 * large reused read buffer parsed in place, and every frame queued in a tick coalesced into one
 * write with at most one write in flight.
 *
 * @module
 */

const READ_BUFFER = 256 * 1024;
const WRITE_BUFFER = 64 * 1024;

/**
 * A length-framed connection. `onFrame` gets a view into the read buffer that is valid only
 * until it returns.
 *
 * @example
 * ```ts ignore
 * const rc = new RawFramedConn(await Deno.connect({ port }), (payload) => console.log(payload.length));
 * rc.start();
 * rc.send(new Uint8Array([1, 2, 3]));
 * await rc.close();
 * ```
 */
export class RawFramedConn {
  #conn: Deno.TcpConn;
  #onFrame: (payload: Uint8Array) => void;
  #onClose: () => void;
  #rbuf: Uint8Array = new Uint8Array(READ_BUFFER);
  #have = 0;
  #out: Uint8Array = new Uint8Array(WRITE_BUFFER);
  #spare: Uint8Array | undefined;
  #outLen = 0;
  #writing: Promise<void> | undefined;
  #scheduled = false;
  #reading: Promise<void> | undefined;
  #closed = false;

  /** Wraps a TCP connection and sets TCP_NODELAY; call `start()` to read. */
  constructor(conn: Deno.TcpConn, onFrame: (payload: Uint8Array) => void, onClose = () => {}) {
    this.#conn = conn;
    this.#onFrame = onFrame;
    this.#onClose = onClose;
    conn.setNoDelay(true);
  }

  /** Starts the read loop. */
  start(): void {
    this.#reading ??= this.#read();
  }

  /** Queues one frame; frames queued in the same tick leave in one write. */
  send(payload: Uint8Array): void {
    if (this.#closed) return;
    const len = payload.length;
    const need = this.#outLen + 4 + len;
    if (need > this.#out.length) {
      let size = this.#out.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#out.subarray(0, this.#outLen));
      this.#out = next;
    }
    const b = this.#out;
    let p = this.#outLen;
    b[p++] = len >>> 24;
    b[p++] = (len >>> 16) & 0xff;
    b[p++] = (len >>> 8) & 0xff;
    b[p++] = len & 0xff;
    b.set(payload, p);
    this.#outLen = p + len;
    if (!this.#scheduled && this.#writing === undefined) {
      this.#scheduled = true;
      queueMicrotask(this.#startFlush);
    }
  }

  /** Closes the socket and waits for both loops. Idempotent. */
  async close(): Promise<void> {
    this.#shutdown();
    await this.#reading;
    await this.#writing;
  }

  #startFlush = (): void => {
    this.#scheduled = false;
    this.#writing ??= this.#flush();
  };

  async #flush(): Promise<void> {
    try {
      while (this.#outLen > 0 && !this.#closed) {
        const chunk = this.#out.subarray(0, this.#outLen);
        this.#out = this.#spare ?? new Uint8Array(WRITE_BUFFER);
        this.#spare = undefined;
        this.#outLen = 0;
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
        if (chunk.buffer.byteLength <= 1024 * 1024) this.#spare = new Uint8Array(chunk.buffer);
      }
    } catch {
      this.#shutdown();
    } finally {
      this.#writing = undefined;
    }
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const n = await this.#conn.read(this.#rbuf.subarray(this.#have));
        if (n === null) break;
        const have = this.#have + n;
        const b = this.#rbuf;
        let p = 0;
        while (have - p >= 4) {
          const len = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
          if (have - p - 4 < len) {
            if (4 + len > b.length) {
              // A frame larger than the buffer: grow it (rare; 64 KiB frames fit).
              const next = new Uint8Array(Math.max(b.length * 2, 4 + len));
              next.set(b.subarray(p, have));
              this.#rbuf = next;
              this.#have = have - p;
              p = -1;
            }
            break;
          }
          this.#onFrame(b.subarray(p + 4, p + 4 + len));
          p += 4 + len;
        }
        if (p === -1) continue;
        if (p > 0 && p < have) b.copyWithin(0, p, have);
        this.#have = have - p;
      }
    } catch {
      // reset by the peer, or closed by us
    }
    this.#shutdown();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#onClose();
  }
}
