/**
 * The channel's one seam that sends a call: whichever protocol it speaks, a channel encodes the
 * request, bounds it with a deadline, and hands it to its {@linkcode Caller}.
 *
 * @module
 */
import type { MethodDescriptor } from "../schema/method_descriptor.ts";
import type { Payload } from "../wire/frame_writer.ts";
import type { CallOptions } from "./call_options.ts";
import type { ResponseDecoder } from "./outgoing_call.ts";
import type { StreamCall } from "./stream_call.ts";

/** Sends calls to providers in one protocol. */
export interface Caller {
  /**
   * Sends `payload` (the encoded `request`) to a provider of `desc`; resolves with
   * `decoder.decode(response)`. `deadline` is a `Date.now()` timestamp, 0 for none.
   */
  call(
    desc: MethodDescriptor,
    payload: Payload,
    decoder: ResponseDecoder,
    opts: CallOptions,
    deadline: number,
    request: unknown,
  ): Promise<unknown>;
  /**
   * Opens a streaming call on a provider of `call.desc`; failures end `call`. Absent when the
   * protocol has no streams.
   */
  openStream?(call: StreamCall): void;
  /** Open connections and how many were opened again after one was lost (for metrics). */
  stats?(): { connections: number; reconnects: number };
  /** Fails the calls in flight with `CANCELLED` and releases every socket. Idempotent. */
  close(): Promise<void>;
}
