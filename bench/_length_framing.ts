/**
 * The 4-byte big-endian length framing of the raw TCP ceilings in the streaming benchmark
 * (bench/_stream_server.ts, bench/_stream_client.ts).
 *
 * @module
 */

/**
 * Writes `parts`, each after its 4-byte length, in one write (all of it).
 *
 * @example
 * ```ts ignore
 * await writeFramed(conn, [blob.encode({ data })]);
 * ```
 */
export async function writeFramed(conn: Deno.Conn, parts: Uint8Array[]): Promise<void> {
  let total = 0;
  for (const b of parts) total += 4 + b.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let p = 0;
  for (const b of parts) {
    view.setUint32(p, b.length);
    out.set(b, p + 4);
    p += 4 + b.length;
  }
  let off = 0;
  while (off < out.length) off += await conn.write(out.subarray(off));
}

/**
 * Reads length-framed messages from a connection into one growing buffer.
 *
 * @example
 * ```ts ignore
 * const reader = new FramedReader(conn, 64 * 1024);
 * while (await reader.fill()) {
 *   for (let m = reader.next(); m !== undefined; m = reader.next()) blob.decode(m);
 * }
 * ```
 */
export class FramedReader {
  #conn: Deno.Conn;
  #buf: Uint8Array;
  #view: DataView;
  /** Bytes read into `#buf`. */
  #have = 0;
  /** Where the next message's length starts. */
  #pos = 0;

  /** A reader of `conn` whose buffer starts at `size` bytes (it doubles when a message needs it). */
  constructor(conn: Deno.Conn, size: number) {
    this.#conn = conn;
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
  }

  /** Reads from the socket once (after dropping the messages taken); false at its end. */
  async fill(): Promise<boolean> {
    this.#buf.copyWithin(0, this.#pos, this.#have);
    this.#have -= this.#pos;
    this.#pos = 0;
    if (this.#have === this.#buf.length) {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#have));
    if (n === null) return false;
    this.#have += n;
    return true;
  }

  /** The next complete message (a view, valid until the next `fill`), or undefined. */
  next(): Uint8Array | undefined {
    const p = this.#pos;
    if (this.#have - p < 4) return undefined;
    const len = this.#view.getUint32(p);
    if (this.#have - p - 4 < len) return undefined;
    this.#pos = p + 4 + len;
    return this.#buf.subarray(p + 4, p + 4 + len);
  }
}
