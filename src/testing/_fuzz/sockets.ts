/**
 * Socket helpers of the fuzzer's network cases: read frames with a deadline, write all, close
 * and ignore.
 *
 * @module
 */
import { closeQuietly } from "../../util/close_quietly.ts";
import { FrameDecoder } from "../../wire/frame.ts";
import type { RpcMeta } from "../../wire/meta.ts";

interface ReadResult {
  /** The peer closed (EOF or reset). */
  closed: boolean;
  frames: RpcMeta[];
  /** The bytes were not valid frames. */
  garbage: string | undefined;
}

/**
 * Reads frames until the peer closes, `until` returns true, or `ms` pass (then the socket is
 * closed by us and `closed` is false).
 */
export async function readFrames(
  conn: Deno.Conn,
  ms: number,
  until: (frames: RpcMeta[]) => boolean = () => false,
): Promise<ReadResult> {
  const frames: RpcMeta[] = [];
  let garbage: string | undefined;
  const dec = new FrameDecoder(1 << 30, (meta) => frames.push(meta));
  const buf = new Uint8Array(64 * 1024);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const timeout = new Promise<"timeout">((r) =>
    timer = setTimeout(() => {
      timedOut = true;
      r("timeout");
    }, ms)
  );
  try {
    for (;;) {
      const read = conn.read(buf).catch(() => null);
      const n = await Promise.race([read, timeout]);
      if (n === "timeout") {
        closeQuietly(conn);
        await read;
        return { closed: false, frames, garbage };
      }
      if (n === null) return { closed: !timedOut, frames, garbage };
      if (garbage === undefined) {
        try {
          dec.push(buf.subarray(0, n));
        } catch (e) {
          garbage = (e as Error).message;
        }
      }
      if (until(frames)) return { closed: false, frames, garbage };
    }
  } finally {
    clearTimeout(timer);
  }
}

export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    return true;
  } catch {
    return false; // the peer closed first: that is an answer too
  }
}

export { closeQuietly } from "../../util/close_quietly.ts";

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
