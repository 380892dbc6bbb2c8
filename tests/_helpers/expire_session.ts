/**
 * Expires a ZooKeeper session from outside, as a crashed or partitioned client's would.
 *
 * @module
 */

/**
 * Expires a live session, for tests: on a second connection, joins the session (same id and
 * password) and closes it in the same write, so the owner cannot win it back in between. The
 * server deletes the session's ephemeral nodes; the owner's client learns on reconnection that
 * its session expired. The password is derived from the id as ZooKeeper's standalone server
 * does (`new java.util.Random(id ^ 0xB3415C00)`), so only the id (`"0x..."`) is needed.
 *
 * @example
 * ```ts ignore
 * import { expireSession } from "./expire_session.ts";
 * await expireSession(zk.connect, registry.sessionId!);
 * ```
 */
export async function expireSession(connect: string, sessionId: string): Promise<void> {
  const id = BigInt.asUintN(64, BigInt(sessionId));
  const password = javaRandomBytes(id ^ 0xB3415C00n, 16);
  const colon = connect.lastIndexOf(":");
  const addr = { hostname: connect.slice(0, colon), port: Number(connect.slice(colon + 1)) };
  // The owner reconnects at once and may win the session back before our close is processed
  // (the close then fails with SESSION_MOVED), or a reply may be lost to a reset: repeat until
  // the server answers a join with "no such session".
  for (let attempt = 0; attempt < 50; attempt++) {
    const [connectReply] = await joinAndClose(addr, id, password);
    if (connectReply && connectReply.getInt32(4) <= 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`could not expire session ${sessionId}: its owner kept winning it back`);
}

/** Sends ConnectRequest + closeSession in one write; returns the reply frames (without length). */
async function joinAndClose(
  addr: { hostname: string; port: number },
  id: bigint,
  password: Uint8Array,
): Promise<DataView[]> {
  const out = new DataView(new ArrayBuffer(4 + 44 + 4 + 8));
  out.setInt32(0, 44); // ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd
  out.setInt32(4, 0);
  out.setBigInt64(8, 0n);
  out.setInt32(16, 30_000);
  out.setBigUint64(20, id);
  out.setInt32(28, 16);
  new Uint8Array(out.buffer).set(password, 32);
  out.setInt32(48, 8); // RequestHeader { xid: 1, type: closeSession (-11) }
  out.setInt32(52, 1);
  out.setInt32(56, -11);
  const conn = await Deno.connect(addr);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, 5000);
  let got = new Uint8Array(0);
  try {
    await conn.write(new Uint8Array(out.buffer));
    const buf = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      const next = new Uint8Array(got.length + n);
      next.set(got);
      next.set(buf.subarray(0, n), got.length);
      got = next;
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the server or the timer */ }
  }
  const frames: DataView[] = [];
  for (let off = 0; off + 4 <= got.length;) {
    const len = new DataView(got.buffer, off).getInt32(0);
    if (off + 4 + len > got.length) break;
    frames.push(new DataView(got.buffer, off + 4, len));
    off += 4 + len;
  }
  return frames;
}

/** `new java.util.Random(seed).nextBytes(new byte[n])`. */
function javaRandomBytes(seed: bigint, n: number): Uint8Array {
  const mask = (1n << 48n) - 1n;
  let s = (seed ^ 0x5DEECE66Dn) & mask;
  const next32 = () => {
    s = (s * 0x5DEECE66Dn + 0xBn) & mask;
    return Number(BigInt.asIntN(32, s >> 16n));
  };
  const out = new Uint8Array(n);
  for (let i = 0; i < n;) {
    let rnd = next32();
    for (let k = Math.min(n - i, 4); k-- > 0; rnd >>= 8) out[i++] = rnd & 0xff;
  }
  return out;
}
