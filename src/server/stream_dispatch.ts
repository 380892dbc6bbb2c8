/**
 * The provider side of one streaming call: runs its handler, feeds it the request messages
 * (client and bidirectional streams), sends the messages it yields within the caller's credit
 * (server and bidirectional streams), and ends the call with a status.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { MethodDescriptor } from "../schema/method_descriptor.ts";
import { messageCost, ReceiveWindow, SendCredit } from "../util/credit.ts";
import { errorMessage } from "../util/error_message.ts";
import { MessageQueue } from "../util/message_queue.ts";
import type { Payload } from "../wire/frame_writer.ts";
import { Kind, type MetaFields } from "../wire/meta.ts";
import { thrownToRpcError } from "./_thrown.ts";
import type { CallContext } from "./call_context.ts";
import type { StreamRecord } from "../observe/stream_record.ts";

/** What a stream needs from its connection. */
export interface StreamOwner {
  readonly logger: Logger;
  /** Largest frame body the caller accepts. */
  readonly peerMaxMessageBytes: number;
  /** Queues a frame; false (nothing queued) when its body is over `peerMaxMessageBytes`. */
  send(fields: MetaFields, payload?: Payload): boolean;
  /** As `send`, for messages: may wait until the end of this turn of the event loop to be written. */
  sendMessage(fields: MetaFields, payload: Payload): boolean;
  /** Starts writing the messages queued so far. */
  flush(): void;
  /** Forgets the stream; false when its call was already answered (cancelled, shut down). */
  release(stream: ServerStream): boolean;
  /** Answers call `callId` with `err` (and `trailers`). */
  sendError(callId: number, err: RpcError, trailers?: Record<string, string>): void;
}

/** A streaming handler: returns an `AsyncIterable` (or a promise of one), or the response. */
// deno-lint-ignore no-explicit-any
type StreamHandler = (input: any, ctx: CallContext) => unknown;

function isPromise(v: unknown): v is Promise<unknown> {
  return v !== null && typeof (v as Promise<unknown>)?.then === "function";
}

function nonEmpty(md: Record<string, string>): Record<string, string> | undefined {
  for (const _ in md) return md;
  return undefined;
}

/**
 * One streaming call on a provider's connection. The connection hands it the call's frames
 * (`onMessage`, `onHalfClose`, `onWindowUpdate`); the call's `ctx.signal` aborting (CANCEL,
 * deadline, shutdown) stops the handler: its generator's `finally` runs.
 *
 * @example
 * ```ts ignore
 * const stream = new ServerStream(owner, desc, ctx, handler, request);
 * stream.start(); // the handler runs until it ends or ctx.signal aborts
 * ```
 */
export class ServerStream {
  /** The call's context (its id, deadline, signal). */
  readonly ctx: CallContext;
  readonly #owner: StreamOwner;
  readonly #desc: MethodDescriptor;
  readonly #handler: StreamHandler;
  readonly #request: unknown;
  readonly #credit = new SendCredit();
  readonly #window = new ReceiveWindow();
  /** Request messages of a client or bidirectional stream. */
  readonly #requests: MessageQueue<unknown> | undefined;
  #ended = false;
  #headersSent = false;
  /** The handler's run; it never rejects. */
  #run: Promise<void> | undefined;
  /** Its metrics and span, when the provider keeps metrics or traces. */
  readonly #record: StreamRecord | undefined;

  /**
   * A stream of `desc` served by `handler`; `request` is the one request of a server stream
   * (ignored for the other kinds, whose requests arrive as messages); `record` counts and
   * traces it.
   */
  constructor(
    owner: StreamOwner,
    desc: MethodDescriptor,
    ctx: CallContext,
    handler: StreamHandler,
    request: unknown,
    record?: StreamRecord | undefined,
  ) {
    this.#owner = owner;
    this.#record = record;
    this.#desc = desc;
    this.ctx = ctx;
    this.#handler = handler;
    this.#request = request;
    if (desc.kind === "client_stream" || desc.kind === "bidi") {
      this.#requests = new MessageQueue({ onTake: (cost) => this.#consumed(cost) });
    }
  }

  /** Resolves when the handler has finished (its generator closed); never rejects. */
  get finished(): Promise<void> {
    return this.#run ?? Promise.resolve();
  }

  /** Runs the handler. */
  start(): void {
    const signal = this.ctx.signal; // arms the deadline
    if (signal.aborted) this.#stop(signal.reason);
    else signal.addEventListener("abort", () => this.#stop(signal.reason), { once: true });
    const record = this.#record;
    // With a span, the handler (and every turn of its generator) runs with it active.
    this.#run = record === undefined ? this.#serve() : record.run(() => this.#serve());
  }

  /** A request message arrived. */
  onMessage(payload: Uint8Array, owned: boolean): void {
    const q = this.#requests;
    if (q === undefined) {
      this.#failWith(new RpcError(Code.INVALID_ARGUMENT, `${this.#name()} takes one request`));
      return;
    }
    const cost = messageCost(payload.length);
    if (!this.#window.receive(cost)) {
      this.#failWith(
        new RpcError(Code.RESOURCE_EXHAUSTED, "the caller sent past its flow-control credit"),
      );
      return;
    }
    let msg;
    try {
      msg = this.#desc.request.decode(payload, !owned);
    } catch (e) {
      const err = new RpcError(
        Code.INVALID_ARGUMENT,
        `cannot decode ${this.#desc.request.type.fullName.slice(1)} for ${this.#name()}: ${
          errorMessage(e)
        }`,
      );
      this.#owner.logger.warn("bad request", { error: err.message });
      this.#failWith(err);
      return;
    }
    this.#record?.received(payload.length);
    q.push(msg, cost);
  }

  /** The caller sent its last request message. */
  onHalfClose(): void {
    this.#requests?.end();
  }

  /** The caller granted `credit` more bytes. */
  onWindowUpdate(credit: number): void {
    this.#credit.grant(credit);
  }

  /** A request message over the provider's `maxMessageBytes` arrived (and was skipped). */
  onOversize(bodyLength: number, limit: number): void {
    this.#failWith(
      new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `request message of ${bodyLength} bytes exceeds the provider's maxMessageBytes ${limit}`,
      ),
    );
  }

  #name(): string {
    return `${this.#desc.service}.${this.#desc.name}`;
  }

  #consumed(cost: number): void {
    const grant = this.#window.consume(cost);
    if (grant > 0 && !this.#ended) {
      this.#owner.send({ kind: Kind.WINDOW_UPDATE, callId: this.ctx.callId, credit: grant });
    }
  }

  /** The call's signal aborted: the handler stops; the caller has been answered (or is gone). */
  #stop(reason: unknown): void {
    const err = reason instanceof RpcError ? reason : new RpcError(Code.CANCELLED, "cancelled");
    this.#record?.end(err.code, err.message);
    // A deadline the provider noticed first is still to be told to the caller.
    if (!this.#ended && this.#owner.release(this)) this.#owner.sendError(this.ctx.callId, err);
    this.#ended = true;
    this.#credit.close();
    this.#requests?.end(err);
  }

  /** Ends the call with `err` on our side: answers it, and stops the handler. */
  #failWith(err: RpcError): void {
    if (this.#ended) return;
    this.ctx.abort(err); // → #stop, which answers the caller with err
  }

  async #serve(): Promise<void> {
    const ctx = this.ctx;
    let it: AsyncIterator<unknown> | undefined;
    try {
      const input = this.#requests ?? this.#request;
      let result = this.#handler(input, ctx);
      if (isPromise(result)) result = await result;
      if (this.#ended) return;
      if (this.#desc.kind === "client_stream") {
        this.#reply(result);
        return;
      }
      const iterable = result as AsyncIterable<unknown> | Iterable<unknown> | null;
      const make = iterable?.[Symbol.asyncIterator as keyof typeof iterable] ??
        iterable?.[Symbol.iterator as keyof typeof iterable];
      if (typeof make !== "function") {
        throw new TypeError(
          `the handler of ${this.#name()} streams responses: it must return an AsyncIterable ` +
            `(an async generator), got ${typeof result}`,
        );
      }
      it = (make as () => AsyncIterator<unknown>).call(iterable);
      for (;;) {
        if (this.#credit.available <= 0) {
          this.#owner.flush(); // what the credit allowed leaves now, not at the turn's end
          await this.#credit.wait();
        }
        if (this.#ended) return;
        const r = await it.next();
        if (this.#ended) return;
        if (r.done) {
          it = undefined;
          this.#reply(undefined);
          return;
        }
        if (!this.#sendMessage(r.value)) return;
      }
    } catch (e) {
      it = undefined; // a generator that threw is closed already
      this.#fail(e);
    } finally {
      if (it !== undefined) {
        // Stopped early (cancel, deadline, shutdown, a message too large): close the generator
        // so its `finally` runs.
        try {
          await it.return?.();
        } catch (e) {
          this.#owner.logger.debug("stream handler threw while closing", {
            method: this.#name(),
            error: errorMessage(e),
          });
        }
      }
    }
  }

  /** Sends one response message; false when the stream ended instead. */
  #sendMessage(value: unknown): boolean {
    const desc = this.#desc;
    let bytes: Payload;
    try {
      bytes = desc.response.encodeLazy((value ?? {}) as Record<string, unknown>);
    } catch (e) {
      const msg = `cannot encode ${
        desc.response.type.fullName.slice(1)
      } yielded by ${this.#name()}: ${errorMessage(e)}`;
      this.#owner.logger.error("bad response", { error: msg });
      this.#failWith(new RpcError(Code.INTERNAL, msg));
      return false;
    }
    let metadata: Record<string, string> | undefined;
    if (!this.#headersSent) {
      this.#headersSent = true;
      metadata = nonEmpty(this.ctx.responseHeaders);
    }
    const fields = { kind: Kind.MESSAGE, callId: this.ctx.callId, metadata };
    if (!this.#owner.sendMessage(fields, bytes)) {
      const limit = this.#owner.peerMaxMessageBytes;
      this.#owner.logger.warn("response too large for the caller", {
        method: this.#name(),
        bytes: bytes.length,
        limit,
      });
      this.#failWith(
        new RpcError(
          Code.RESOURCE_EXHAUSTED,
          `response message of ${bytes.length} bytes exceeds the caller's maxMessageBytes ${limit}`,
        ),
      );
      return false;
    }
    this.#record?.sent(bytes.length);
    this.#credit.spend(messageCost(bytes.length));
    return true;
  }

  /** Ends the call with status OK: the response of a client stream, or the end of a stream. */
  #reply(response: unknown): void {
    if (this.#ended) return;
    let bytes: Payload | undefined;
    const desc = this.#desc;
    if (desc.kind === "client_stream") {
      try {
        bytes = desc.response.encodeLazy((response ?? {}) as Record<string, unknown>);
      } catch (e) {
        const msg = `cannot encode ${
          desc.response.type.fullName.slice(1)
        } returned by ${this.#name()}: ${errorMessage(e)}`;
        this.#owner.logger.error("bad response", { error: msg });
        this.#failWith(new RpcError(Code.INTERNAL, msg));
        return;
      }
    }
    this.#ended = true;
    this.#credit.close();
    this.#requests?.end();
    if (!this.#owner.release(this)) return;
    const metadata = nonEmpty(this.ctx.responseMetadata);
    if (!this.#owner.send({ kind: Kind.RESPONSE, callId: this.ctx.callId, metadata }, bytes)) {
      const limit = this.#owner.peerMaxMessageBytes;
      const err = new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `response of ${bytes?.length} bytes exceeds the caller's maxMessageBytes ${limit}`,
      );
      this.#record?.end(err.code, err.message);
      this.#owner.sendError(this.ctx.callId, err);
      return;
    }
    if (bytes !== undefined) this.#record?.sent(bytes.length);
    this.#record?.end(Code.OK);
  }

  /** The handler threw: the caller gets its `RpcError` (or `INTERNAL`) after what was sent. */
  #fail(thrown: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#credit.close();
    this.#requests?.end();
    const err = thrownToRpcError(thrown);
    this.#record?.end(err.code, err.message);
    if (err !== thrown) {
      this.#owner.logger.error("handler failed", {
        method: this.#name(),
        error: err.message,
        thrown,
      });
    }
    if (this.#owner.release(this)) {
      this.#owner.sendError(this.ctx.callId, err, this.ctx.responseMetadata);
    }
  }
}
