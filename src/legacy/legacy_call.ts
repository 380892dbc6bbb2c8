/**
 * The caller side of the original C++ mprpc's protocol (see `legacy_codec.ts`): one TCP
 * connection per call, the request in one write, the reply read until the provider closes.
 * Used by {@linkcode RpcChannel} when it is created with `protocol: "mprpc-legacy"`.
 *
 * Unlike the original caller, the reply is read to the end (not one 1024-byte `recv`), bounded
 * by `maxMessageBytes`; calls have deadlines and can be cancelled; failures are `RpcError`s
 * (`UNAVAILABLE` for connection failures, `DEADLINE_EXCEEDED`, `CANCELLED`); and by default
 * an empty reply is an error, not an empty success (see {@linkcode LegacyEmptyReply}).
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import {
  type Endpoint,
  endpointKey,
  type Registry,
  type ResolveOptions,
} from "../registry/registry.ts";
import type { MethodDescriptor } from "../schema/method_descriptor.ts";
import type { ByteStream } from "../transport/framed_connection.ts";
import { connect, type TlsClientOptions } from "../transport/listen.ts";
import { abortReason, type CallSignal, callSignal, raceSignal } from "../util/signals.ts";
import { LegacyRequestEncoder, shortServiceName } from "./legacy_codec.ts";
import type { CallOptions } from "../client/call_options.ts";
import type { ResponseDecoder } from "../client/outgoing_call.ts";
import type { Caller } from "../client/caller.ts";
import { type Payload, payloadBytes } from "../wire/frame_writer.ts";
import { closeQuietly } from "../util/close_quietly.ts";

/** The protocol a channel speaks: `"native"` (default) or the C++ mprpc's `"mprpc-legacy"`. */
export type ChannelProtocol = "native" | "mprpc-legacy";

/**
 * What an empty reply (the provider closed without sending a byte) means:
 * - `"error"` (default): the call failed with `UNAVAILABLE`. Our provider closes without a
 *   reply when a handler fails or the request is refused, because the protocol has no error
 *   channel; the original C++ caller read this as an empty success (its defect 6).
 * - `"message"`: an empty message (all fields default), which is also a valid proto3 encoding.
 *   Choose it for methods whose response may legitimately have every field at its default.
 */
export type LegacyEmptyReply = "error" | "message";

/** A registry that knows the C++ layout (`/<Service>/<Method>` = `ip:port`), e.g. ZooKeeper's. */
export interface LegacyResolver {
  /** The provider of `serviceName.methodName`; `options.signal` abandons the wait. */
  resolveLegacy(
    serviceName: string,
    methodName: string,
    options?: ResolveOptions,
  ): Promise<Endpoint | undefined>;
}

/**
 * True when `registry` has a `resolveLegacy` method.
 *
 * @example
 * ```ts
 * import { isLegacyResolver } from "./legacy_call.ts";
 * import { StaticRegistry } from "../registry/static_registry.ts";
 * if (isLegacyResolver(new StaticRegistry())) throw new Error("StaticRegistry has no C++ layout");
 * ```
 */
export function isLegacyResolver(registry: unknown): registry is LegacyResolver {
  return typeof (registry as Partial<LegacyResolver> | undefined)?.resolveLegacy === "function";
}

/** Options of {@linkcode legacyCall}. */
export interface LegacyCallOptions {
  host: string;
  port: number;
  /** The whole encoded request (`LegacyRequestEncoder.encode`), written in one write. */
  request: Uint8Array;
  /** Largest reply accepted; more is `RESOURCE_EXHAUSTED`. */
  maxMessageBytes: number;
  /** TCP connect timeout, ms. */
  connectTimeoutMs: number;
  /** Aborting closes the socket; the call rejects with the signal's reason if it is an `RpcError`. */
  signal?: AbortSignal | undefined;
  /** Default `"error"`. */
  emptyReply?: LegacyEmptyReply | undefined;
  tls?: TlsClientOptions | undefined;
}

function reasonOf(signal: AbortSignal): RpcError {
  return abortReason(signal.reason);
}

/**
 * One legacy call on a fresh connection: connects, writes `request` in one write, reads until
 * the provider closes, returns the reply bytes.
 *
 * @throws {RpcError} `UNAVAILABLE` when the connection cannot be made or breaks, or (with
 * `emptyReply: "error"`) the provider closes without a reply; `RESOURCE_EXHAUSTED` for a reply
 * over `maxMessageBytes`; the signal's reason when aborted.
 *
 * @example
 * ```ts ignore
 * import { legacyCall } from "./legacy_call.ts";
 * import { LegacyRequestEncoder } from "./legacy_codec.ts";
 * const request = new LegacyRequestEncoder("UserServiceRpc", "Login").encode(loginBytes);
 * const reply = await legacyCall({ host: "127.0.0.1", port: 8000, request, maxMessageBytes: 1 << 22, connectTimeoutMs: 3000 });
 * ```
 */
export async function legacyCall(o: LegacyCallOptions): Promise<Uint8Array> {
  const { host, port, signal } = o;
  const where = endpointKey({ host, port });
  if (signal?.aborted) throw reasonOf(signal);
  // Aborted by the caller's signal, or at the connect timeout.
  const connecting = callSignal(signal, Date.now() + o.connectTimeoutMs);
  let conn: ByteStream;
  try {
    conn = await connect({ host, port, tls: o.tls, signal: connecting.signal });
  } catch (e) {
    if (signal?.aborted) throw reasonOf(signal);
    const why = connecting.signal.aborted
      ? `timed out after ${o.connectTimeoutMs} ms`
      : e instanceof Error
      ? e.message
      : String(e);
    throw new RpcError(Code.UNAVAILABLE, `cannot connect to ${where}: ${why}`, { cause: e });
  } finally {
    connecting.cleanup();
  }
  const c = conn;
  const hangUp = () => closeQuietly(c);
  signal?.addEventListener("abort", hangUp, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    if (signal?.aborted) throw reasonOf(signal);
    let off = 0;
    while (off < o.request.length) off += await c.write(o.request.subarray(off));
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      total += n;
      if (total > o.maxMessageBytes) {
        throw new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `legacy reply from ${where} exceeds maxMessageBytes ${o.maxMessageBytes}`,
        );
      }
      chunks.push(buf.slice(0, n));
    }
  } catch (e) {
    if (signal?.aborted) throw reasonOf(signal);
    if (e instanceof RpcError) throw e;
    throw new RpcError(
      Code.UNAVAILABLE,
      `legacy call to ${where} failed: ${e instanceof Error ? e.message : e}`,
      { cause: e },
    );
  } finally {
    signal?.removeEventListener("abort", hangUp);
    closeQuietly(c);
  }
  if (total === 0 && (o.emptyReply ?? "error") === "error") {
    throw new RpcError(
      Code.UNAVAILABLE,
      `provider ${where} closed the connection without a reply (how a legacy provider reports a failed call)`,
    );
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let p = 0;
  for (const ch of chunks) {
    out.set(ch, p);
    p += ch.length;
  }
  return out;
}

/** Options of {@linkcode LegacyCaller}. */
export interface LegacyCallerOptions {
  /** Where to find providers: `resolveLegacy` when it has one, else `resolve(fullName)`. */
  registry?: Registry | undefined;
  /** A fixed provider for every method (wins over `registry`). */
  address?: Endpoint | undefined;
  maxMessageBytes: number;
  connectTimeoutMs: number;
  logger: Logger;
  tls?: TlsClientOptions | undefined;
  emptyReply?: LegacyEmptyReply | undefined;
}

interface Target {
  serviceName: string;
  encoder: LegacyRequestEncoder;
}

/**
 * Legacy calls of one channel: resolves the provider per method, runs each call on its own
 * connection with the call's deadline, cancellation and retries, and cancels them all on close.
 *
 * @example What `RpcChannel` does with `protocol: "mprpc-legacy"`
 * ```ts ignore
 * const caller = new LegacyCaller({ address: { host, port }, maxMessageBytes, connectTimeoutMs, logger });
 * const res = await caller.call(describeMethod(login), requestBytes, desc.response, {}, Date.now() + 2000);
 * await caller.close();
 * ```
 */
export class LegacyCaller implements Caller {
  #o: LegacyCallerOptions;
  #targets = new WeakMap<MethodDescriptor, Target>();
  #active = new Map<CallSignal, Promise<unknown>>();
  #next = 0;

  /** Creates the caller; nothing connects until a call. */
  constructor(options: LegacyCallerOptions) {
    this.#o = options;
  }

  /**
   * Calls `desc` with the serialized `payload`; resolves with `decoder.decode(reply)`.
   * `deadline` is a `Date.now()` timestamp, 0 for none. Metadata is not sent (the protocol
   * has none).
   */
  call(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
  ): Promise<unknown> {
    // Bounds every stage: registry lookup, connect, write, read, retries.
    const bound = callSignal(opts.signal, deadline);
    const p = this.#attempts(desc, payloadBytes(payload), decoder, opts, bound.signal).finally(
      () => {
        bound.cleanup();
        this.#active.delete(bound);
      },
    );
    this.#active.set(bound, p);
    return p;
  }

  /** Cancels the calls in flight and waits until their sockets are closed. Idempotent. */
  async close(): Promise<void> {
    const reason = new RpcError(Code.CANCELLED, "channel closed");
    const pending = [...this.#active];
    for (const [bound] of pending) bound.abort(reason);
    await Promise.allSettled(pending.map(([, p]) => p));
  }

  async #attempts(
    desc: MethodDescriptor,
    payload: Uint8Array,
    decoder: ResponseDecoder,
    opts: CallOptions,
    signal: AbortSignal,
  ): Promise<unknown> {
    const target = this.#target(desc);
    const request = target.encoder.encode(payload);
    const avoid = new Set<string>();
    let retriesLeft = opts.retries ?? 0;
    for (;;) {
      if (signal.aborted) throw reasonOf(signal);
      const ep = await this.#endpoint(desc, target, avoid, signal);
      try {
        const reply = await legacyCall({
          host: ep.host,
          port: ep.port,
          request,
          maxMessageBytes: this.#o.maxMessageBytes,
          connectTimeoutMs: this.#o.connectTimeoutMs,
          signal,
          emptyReply: this.#o.emptyReply,
          tls: this.#o.tls,
        });
        try {
          return decoder.decode(reply, false);
        } catch (e) {
          throw new RpcError(
            Code.INTERNAL,
            `cannot decode the legacy reply of ${desc.service}.${desc.name} from ${
              endpointKey(ep)
            } as ${desc.response.type.fullName.slice(1)}: ${e instanceof Error ? e.message : e}`,
          );
        }
      } catch (e) {
        if (
          !(e instanceof RpcError) || e.code !== Code.UNAVAILABLE || retriesLeft-- <= 0 ||
          signal.aborted
        ) {
          throw e;
        }
        avoid.add(endpointKey(ep));
        this.#o.logger.debug("retrying legacy call", {
          method: `${desc.service}.${desc.name}`,
          error: e.message,
        });
      }
    }
  }

  #target(desc: MethodDescriptor): Target {
    let t = this.#targets.get(desc);
    if (t === undefined) {
      const serviceName = shortServiceName(desc.service);
      t = { serviceName, encoder: new LegacyRequestEncoder(serviceName, desc.name) };
      this.#targets.set(desc, t);
    }
    return t;
  }

  async #endpoint(
    desc: MethodDescriptor,
    target: Target,
    avoid: Set<string>,
    signal: AbortSignal,
  ): Promise<Endpoint> {
    if (this.#o.address) return this.#o.address;
    const registry = this.#o.registry!;
    let found: Endpoint | undefined;
    const lookup = isLegacyResolver(registry)
      ? registry.resolveLegacy(target.serviceName, desc.name, { signal })
      : registry.resolve(desc.service, { signal }).then((list) => {
        const pool = list.filter((e) => !avoid.has(endpointKey(e)));
        const from = pool.length > 0 ? pool : list;
        return from.length > 0 ? from[this.#next++ % from.length] : undefined;
      });
    try {
      // Also for registries that ignore the signal.
      found = await raceSignal(lookup, signal);
    } catch (e) {
      if (signal.aborted) {
        const why = reasonOf(signal);
        const method = `${desc.service}.${desc.name}`;
        throw new RpcError(why.code, `${why.message} while resolving the provider of ${method}`, {
          cause: why,
        });
      }
      throw RpcError.from(e, Code.UNAVAILABLE);
    }
    if (found === undefined) {
      throw new RpcError(
        Code.UNAVAILABLE,
        isLegacyResolver(registry)
          ? `no provider of ${target.serviceName}.${desc.name} registered (node /${target.serviceName}/${desc.name})`
          : `no provider available for service ${desc.service}`,
      );
    }
    return found;
  }
}
