/**
 * The only place that calls `Deno.listen`/`Deno.connect` (and their TLS variants).
 *
 * @module
 */
import type { Accepted, ByteStream } from "./framed_connection.ts";
import { TlsAcceptor, type TlsAcceptorOptions } from "./tls_accept.ts";
import { raceSignal } from "../util/signals.ts";
import { closeQuietly } from "../util/close_quietly.ts";

/** TLS settings of a provider: PEM certificate chain and key, inline or by path. */
export interface TlsServerOptions {
  /** PEM certificate chain, inline. */
  cert?: string;
  /** PEM private key, inline. */
  key?: string;
  /** Path of the PEM certificate chain. */
  certFile?: string;
  /** Path of the PEM private key. */
  keyFile?: string;
}

/** TLS settings of a caller. */
export interface TlsClientOptions {
  /** Extra PEM CA certificates to trust (e.g. a private CA). */
  caCerts?: string[];
  /** Paths of PEM CA certificates to trust. */
  caFiles?: string[];
  /** Server name to verify; default the host connected to. */
  hostname?: string;
}

export type { Accepted };

/** A listening socket. */
export interface Listener {
  readonly addr: { host: string; port: number };
  accept(): Promise<Accepted>;
  close(): void;
}

async function readPem(inline: string | undefined, path: string | undefined, what: string) {
  if (inline !== undefined) return inline;
  if (path === undefined) throw new TypeError(`TLS needs ${what} or ${what}File`);
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new TypeError(`Cannot read TLS ${what} file ${path}: ${(e as Error).message}`);
  }
}

/**
 * Listens on `host:port`, over TLS when `tls` is given. A TLS listener hands out connections once
 * their handshake is done, with at most `maxPendingHandshakes` in progress (see
 * {@linkcode TlsAcceptor}).
 */
export async function listen(
  options: {
    host: string;
    port: number;
    tls?: TlsServerOptions | undefined;
    reusePort?: boolean | undefined;
  } & TlsAcceptorOptions,
): Promise<Listener> {
  const { host, port, tls, reusePort } = options;
  let l: Deno.Listener<Deno.Conn<Deno.NetAddr>, Deno.NetAddr>;
  if (tls) {
    const cert = await readPem(tls.cert, tls.certFile, "cert");
    const key = await readPem(tls.key, tls.keyFile, "key");
    const tl = Deno.listenTls({ hostname: host, port, cert, key });
    let acceptor: TlsAcceptor;
    try {
      acceptor = new TlsAcceptor(tl, options);
    } catch (e) {
      tl.close();
      throw e;
    }
    const addr = tl.addr as Deno.NetAddr;
    return {
      addr: { host: addr.hostname, port: addr.port },
      accept: () => acceptor.accept(),
      close: () => acceptor.close(),
    };
  } else {
    try {
      l = Deno.listen({
        hostname: host,
        port,
        transport: "tcp",
        ...(reusePort ? { reusePort } : {}),
      });
    } catch (e) {
      if (reusePort && e instanceof TypeError) {
        throw new TypeError(`reusePort (provider workers) needs --unstable-net: ${e.message}`);
      }
      throw e;
    }
  }
  const addr = l.addr as Deno.NetAddr;
  return {
    addr: { host: addr.hostname, port: addr.port },
    async accept(): Promise<Accepted> {
      const conn = await l.accept();
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      const r = conn.remoteAddr as Deno.NetAddr;
      return { conn, peer: { host: r.hostname, port: r.port } };
    },
    close() {
      l.close();
    },
  };
}

/** Connects to `host:port`, over TLS when `tls` is given; TCP_NODELAY is set. */
export async function connect(
  options: {
    host: string;
    port: number;
    tls?: TlsClientOptions | undefined;
    signal?: AbortSignal | undefined;
  },
): Promise<ByteStream> {
  const { host, port, tls, signal } = options;
  const tcp = await Deno.connect(
    signal === undefined
      ? { hostname: host, port, transport: "tcp" }
      : { hostname: host, port, transport: "tcp", signal },
  );
  tcp.setNoDelay(true);
  if (!tls) return tcp;
  try {
    const caCerts = [...(tls.caCerts ?? [])];
    for (const f of tls.caFiles ?? []) caCerts.push(await Deno.readTextFile(f));
    // `hostname` is the name the certificate must match; the address dialled is `host`.
    const hostname = tls.hostname ?? host;
    const conn = await Deno.startTls(tcp, caCerts.length ? { hostname, caCerts } : { hostname });
    try {
      await raceSignal(conn.handshake(), signal);
    } catch (e) {
      closeQuietly(conn); // also ends a handshake still running after an abort
      throw e;
    }
    return conn;
  } catch (e) {
    closeQuietly(tcp); // unless already handed over to TLS and closed
    throw e;
  }
}
