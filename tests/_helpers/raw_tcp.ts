/**
 * Raw TCP peers for tests that need a misbehaving provider or caller: servers that accept and
 * then do something odd, and a port with nothing listening.
 *
 * @module
 */
import { FrameDecoder } from "../../src/wire/frame.ts";
import { FrameWriter } from "../../src/wire/frame_writer.ts";
import { Kind, type MetaFields, type RpcMeta } from "../../src/wire/meta.ts";

/** A listening raw server; `close()` closes the listener and every accepted socket. */
export interface RawServer extends AsyncDisposable {
  port: number;
  /** Sockets accepted so far. */
  accepted: number;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1:0 and runs `onConn` for each accepted socket. The socket is closed when
 * `onConn` settles (unless it closed it) and at `close()`.
 *
 * @example
 * ```ts ignore
 * await using server = startRawServer(async (conn) => { await conn.read(new Uint8Array(64)); });
 * ```
 */
export function startRawServer(onConn: (conn: Deno.TcpConn) => Promise<void>): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const tasks = new Set<Promise<void>>();
  const server: RawServer = {
    port: listener.addr.port,
    accepted: 0,
    close,
    [Symbol.asyncDispose]: close,
  };
  const loop = (async () => {
    for await (const conn of listener) {
      server.accepted++;
      conns.add(conn);
      const task = onConn(conn).catch(() => {}).finally(() => {
        closeQuietly(conn);
        conns.delete(conn);
      });
      tasks.add(task);
      void task.finally(() => tasks.delete(task)); // tracked in `tasks`, awaited by close()
    }
  })().catch(() => {});
  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    return closing ??= (async () => {
      closeQuietly(listener);
      await loop;
      for (const c of conns) closeQuietly(c);
      await Promise.all([...tasks]);
    })();
  }
  return server;
}

/** Closes a socket or listener, ignoring "already closed". */
export function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export function deadPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Reads from `conn` until EOF (or an error such as a reset), returning the bytes read. */
export async function readToEnd(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      break;
    }
    if (n === null) break;
    parts.push(buf.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Decodes every complete frame in `bytes` (payloads copied). */
export function decodeFrames(
  bytes: Uint8Array,
  maxMessageBytes = 1 << 30,
): Array<{ meta: RpcMeta; payload: Uint8Array }> {
  const frames: Array<{ meta: RpcMeta; payload: Uint8Array }> = [];
  new FrameDecoder(maxMessageBytes, (meta, payload) => {
    frames.push({ meta, payload: payload.slice() });
  }).push(bytes);
  return frames;
}

/** One decoded frame with its payload copied. */
export interface RawFrame {
  meta: RpcMeta;
  payload: Uint8Array;
}

/**
 * Speaks the frame protocol by hand over a raw socket: `send()` frames, `next()` the next
 * frame received (or `null` at EOF).
 *
 * @example
 * ```ts ignore
 * await using s = await FrameSocket.connect(port);
 * await s.send({ kind: Kind.PING, callId: 9 });
 * const pong = await s.next();
 * ```
 */
export class FrameSocket implements AsyncDisposable {
  readonly conn: Deno.Conn;
  #queue: RawFrame[] = [];
  #decoder: FrameDecoder;
  #buf = new Uint8Array(64 * 1024);
  #eof = false;

  /** Wraps a connected socket. */
  constructor(conn: Deno.Conn, maxMessageBytes = 1 << 30) {
    this.conn = conn;
    this.#decoder = new FrameDecoder(maxMessageBytes, (meta, payload) => {
      this.#queue.push({ meta, payload: payload.slice() });
    });
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<FrameSocket> {
    return new FrameSocket(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Writes one frame. */
  async send(fields: MetaFields, payload?: Uint8Array): Promise<void> {
    const w = new FrameWriter();
    w.writeFrame(fields, payload);
    await this.write(w.take());
  }

  /** Writes raw bytes. */
  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /**
   * The next frame, or `null` once the peer closed (or reset) the connection. Gives up after
   * `timeoutMs` by closing the socket and throwing.
   */
  async next(timeoutMs = 3000): Promise<RawFrame | null> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(this.conn);
    }, timeoutMs);
    try {
      while (this.#queue.length === 0 && !this.#eof) {
        let n: number | null;
        try {
          n = await this.conn.read(this.#buf);
        } catch (e) {
          if (timedOut) throw new Error(`no frame within ${timeoutMs} ms`);
          if (e instanceof Deno.errors.ConnectionReset) n = null;
          else throw e;
        }
        if (n === null) {
          if (timedOut) throw new Error(`no frame within ${timeoutMs} ms`);
          this.#eof = true;
          break;
        }
        this.#decoder.push(this.#buf.subarray(0, n));
      }
      return this.#queue.shift() ?? null;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Plays the provider's side of the connection handshake: the caller's first frame is a
   * PING, answered with a PONG, before any call is sent.
   */
  async handshake(): Promise<void> {
    const ping = await this.next();
    if (ping?.meta.kind !== Kind.PING) {
      throw new Error(`expected the handshake PING, got ${JSON.stringify(ping?.meta)}`);
    }
    await this.send({ kind: Kind.PONG, callId: ping.meta.callId });
  }

  /** Closes the socket (idempotent). */
  close(): void {
    closeQuietly(this.conn);
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
