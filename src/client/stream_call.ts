/**
 * The caller side of one streaming call: the {@linkcode ResponseStream} the application
 * iterates, the pump that sends the request messages within the provider's credit, and the
 * call's deadline and cancellation.
 *
 * @module
 */
import { requestEncodeError } from "./request_encode_error.ts";
import { Code, RpcError } from "../errors.ts";
import type { MethodDescriptor, MethodKind } from "../schema/method_descriptor.ts";
import { messageCost, ReceiveWindow, SendCredit } from "../util/credit.ts";
import { errorMessage } from "../util/error_message.ts";
import { MessageQueue } from "../util/message_queue.ts";
import { abortReason, type CallSignal, callSignal } from "../util/signals.ts";
import type { Payload } from "../wire/frame_writer.ts";
import { Kind, type MetaFields, type RpcMeta } from "../wire/meta.ts";
import type { ResponseStream } from "./response_stream.ts";
import type { StreamRecord } from "../observe/stream_record.ts";

/** What a stream needs from the connection it was opened on. */
export interface StreamLink {
  /** Largest frame body the provider accepts. */
  readonly peerMaxMessageBytes: number;
  /** Queues a frame; false (nothing queued) when its body is over `peerMaxMessageBytes`. */
  send(fields: MetaFields, payload?: Payload): boolean;
  /** As `send`, for messages: may wait until the end of this turn of the event loop to be written. */
  sendMessage(fields: MetaFields, payload: Payload): boolean;
  /** Starts writing the messages queued so far. */
  flush(): void;
  /** Forgets the stream (it ended). */
  release(call: { readonly id: number }): void;
}

/** What a stream is opened with. */
export interface StreamCallInit {
  /** The method; its `kind` is not `unary`. */
  desc: MethodDescriptor;
  /** Deadline (`Date.now()`, 0 for none), signal and metadata apply to the whole stream. */
  deadline: number;
  signal?: AbortSignal | undefined;
  metadata?: Record<string, string> | undefined;
  /** Server streams: the request message and its encoding (sent with the REQUEST). */
  request?: unknown;
  payload?: Payload | undefined;
  /** Client and bidirectional streams: the request messages. */
  requests?: AsyncIterable<unknown> | undefined;
  /** Counts and traces the stream (when the channel keeps metrics or traces). */
  record?: StreamRecord | undefined;
}

/**
 * One streaming call as the caller sees it. It is the {@linkcode ResponseStream} of server and
 * bidirectional streams; {@linkcode StreamCall.response} is the one response of a client stream.
 *
 * @example
 * ```ts ignore
 * const call = new StreamCall({ desc, deadline: 0, request, payload });
 * caller.openStream(call);
 * for await (const msg of call) console.log(msg);
 * ```
 */
export class StreamCall<T = unknown> implements ResponseStream<T> {
  /** The method. */
  readonly desc: MethodDescriptor;
  /** How the method streams. */
  readonly kind: MethodKind;
  /** `Date.now()` deadline, or 0. */
  readonly deadline: number;
  /** Request metadata. */
  readonly metadata: Record<string, string> | undefined;
  /** Server streams: the request (for `hashKey` functions) and its encoding. */
  readonly request: unknown;
  readonly payload: Payload | undefined;
  /** The provider's response headers, once its first frame of this call arrives. */
  readonly headers: Promise<Record<string, string>>;
  /** The response metadata the provider ended the stream with. */
  readonly trailers: Promise<Record<string, string>>;
  /** Aborts with the `RpcError` of the deadline or the caller's signal. */
  readonly bound: CallSignal;
  /** The call id on its connection, once opened. */
  id = 0;
  /** Times the stream was opened again because a provider never started it. */
  hops = 0;
  /**
   * Request messages handed to a connection (queued or written). While it is 0, no request message
   * has left the caller: a client or bidirectional stream the provider never started may be
   * opened again elsewhere, since every message taken from the request iterable is still in hand.
   */
  messagesSent = 0;
  /** Its metrics and span, if recorded. */
  readonly record: StreamRecord | undefined;
  #link: StreamLink | undefined;
  readonly #requests: AsyncIterable<unknown> | undefined;
  readonly #inbox: MessageQueue<unknown>;
  #credit = new SendCredit();
  #window = new ReceiveWindow();
  #ended = false;
  #gotFrame = false;
  /** The request iterable is done: every attempt gets a HALF_CLOSE after its REQUEST. */
  #requestsDone = false;
  /** Wakes a pump holding a message while the stream is between attempts. */
  #wakeHolder: (() => void) | undefined;
  #resolveHeaders!: (md: Record<string, string>) => void;
  #rejectHeaders!: (e: unknown) => void;
  #resolveTrailers!: (md: Record<string, string>) => void;
  #rejectTrailers!: (e: unknown) => void;
  /** The request pump of client and bidirectional streams; it never rejects. */
  #pump: Promise<void> | undefined;

  /** A stream not opened yet; the caller opens it on a connection. */
  constructor(init: StreamCallInit) {
    this.desc = init.desc;
    this.kind = init.desc.kind;
    this.deadline = init.deadline;
    this.metadata = init.metadata;
    this.request = init.request;
    this.payload = init.payload;
    this.#requests = init.requests;
    this.record = init.record;
    this.headers = new Promise((resolve, reject) => {
      this.#resolveHeaders = resolve;
      this.#rejectHeaders = reject;
    });
    this.trailers = new Promise((resolve, reject) => {
      this.#resolveTrailers = resolve;
      this.#rejectTrailers = reject;
    });
    // Nobody has to read them: their rejections are never reported as unhandled.
    this.headers.catch(() => {});
    this.trailers.catch(() => {});
    this.#inbox = new MessageQueue<unknown>({
      onTake: (cost) => this.#consumed(cost),
      onReturn: () =>
        this.fail(new RpcError(Code.CANCELLED, "the caller stopped reading the stream"), true),
    });
    this.bound = callSignal(init.signal, init.deadline);
    const signal = this.bound.signal;
    if (signal.aborted) this.fail(abortReason(signal.reason), true);
    else {
      signal.addEventListener("abort", () => this.fail(abortReason(signal.reason), true), {
        once: true,
      });
    }
  }

  /** True once the call ended (either way). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Resolves once the request pump (if any) has stopped; never rejects. */
  get settled(): Promise<void> {
    return this.#pump ?? Promise.resolve();
  }

  /** The responses. A stream can be iterated once; breaking out of the loop cancels the call. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#inbox[Symbol.asyncIterator]() as AsyncIterator<T>;
  }

  /** Client streams: the one response. */
  async response(): Promise<T> {
    const r = await this.#inbox.next();
    if (r.done) throw new RpcError(Code.INTERNAL, `${this.#name()} ended without a response`);
    return r.value as T;
  }

  /** Cancels the call: the provider's `ctx.signal` aborts with `CANCELLED`. */
  cancel(reason?: unknown): void {
    this.fail(abortReason(reason), true);
  }

  /**
   * @internal Opened on `link` as call `id`: starts sending the request messages (or, opened again
   * after a refusal, resumes: a message held meanwhile goes out now, and the HALF_CLOSE of a
   * request iterable that already ended is sent again).
   */
  attach(link: StreamLink, id: number): void {
    this.#link = link;
    this.id = id;
    if (this.#ended) {
      // Cancelled while the REQUEST was being queued: tell the provider at once.
      link.send({ kind: Kind.CANCEL, callId: id, status: Code.CANCELLED });
      link.release(this);
      return;
    }
    if (this.#requestsDone) link.send({ kind: Kind.HALF_CLOSE, callId: id });
    this.#wakeHeld();
    if (this.#requests !== undefined) this.#pump ??= this.#pumpRequests(this.#requests);
  }

  /**
   * @internal The provider never started it: it may be opened again elsewhere (attached to a new
   * link). Until then the request pump sends nothing: a message it takes from the request
   * iterable meanwhile is held and sent on the next attempt (or dropped if the call ends first).
   */
  detach(): void {
    this.#link = undefined;
    this.id = 0;
    this.#credit.close(); // a request pump waiting on the old provider's credit wakes up
    this.#credit = new SendCredit();
    this.#window = new ReceiveWindow();
  }

  /**
   * @internal Ends the call with `err` (unless it ended already); with `notify`, tells the
   * provider (CANCEL carrying the code).
   */
  fail(err: RpcError, notify: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.record?.end(err.code, err.message);
    const link = this.#link;
    if (link !== undefined) {
      if (notify) link.send({ kind: Kind.CANCEL, callId: this.id, status: err.code });
      link.release(this);
    }
    this.#credit.close();
    this.#wakeHeld();
    this.#inbox.end(err);
    if (!this.#gotFrame) this.#rejectHeaders(err);
    this.#rejectTrailers(err);
    this.bound.cleanup();
  }

  /** @internal A MESSAGE frame of this call. */
  onMessage(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    if (this.#ended) return;
    this.#frame(meta.metadata);
    const cost = messageCost(payload.length);
    if (!this.#window.receive(cost)) {
      this.fail(
        new RpcError(Code.INTERNAL, "the provider sent past its flow-control credit"),
        true,
      );
      return;
    }
    let value;
    try {
      value = this.desc.response.decode(payload, !owned);
    } catch (e) {
      this.fail(
        new RpcError(Code.INTERNAL, `cannot decode response: ${errorMessage(e)}`),
        true,
      );
      return;
    }
    this.record?.received(payload.length);
    this.#inbox.push(value, cost);
  }

  /** @internal The provider's RESPONSE (or CANCEL) ending this call. */
  onEnd(meta: RpcMeta, payload: Uint8Array, owned: boolean): void {
    if (this.#ended) return;
    this.#frame(undefined);
    if (meta.status !== 0 || meta.kind === Kind.CANCEL) {
      const code = meta.status !== 0 ? meta.status : Code.CANCELLED;
      this.fail(
        new RpcError(code, meta.errorMessage || "the provider ended the stream", {
          metadata: meta.metadata ?? {},
        }),
        false,
      );
      return;
    }
    if (this.kind === "client_stream") {
      let value;
      try {
        value = this.desc.response.decode(payload, !owned);
      } catch (e) {
        this.fail(new RpcError(Code.INTERNAL, `cannot decode response: ${errorMessage(e)}`), false);
        return;
      }
      this.record?.received(payload.length);
      this.#inbox.push(value, 0);
    }
    this.#ended = true;
    this.record?.end(Code.OK);
    this.#link?.release(this);
    this.#credit.close();
    this.#wakeHeld();
    this.#inbox.end();
    this.#resolveTrailers(meta.metadata ?? {});
    this.bound.cleanup();
  }

  /** @internal A WINDOW_UPDATE: `credit` more bytes may be sent. */
  onWindowUpdate(credit: number): void {
    this.#credit.grant(credit);
  }

  #name(): string {
    return `${this.desc.service}.${this.desc.name}`;
  }

  /** The first frame from the provider brings the headers. */
  #frame(metadata: Record<string, string> | undefined): void {
    if (this.#gotFrame) return;
    this.#gotFrame = true;
    this.#resolveHeaders(metadata ?? {});
  }

  /** Wakes the request pump if it holds a message for the next attempt. */
  #wakeHeld(): void {
    const wake = this.#wakeHolder;
    this.#wakeHolder = undefined;
    wake?.();
  }

  /** Resolves once the stream is attached again, or ends. */
  #nextLink(): Promise<void> {
    return new Promise((resolve) => this.#wakeHolder = resolve);
  }

  #consumed(cost: number): void {
    const grant = this.#window.consume(cost);
    if (grant > 0 && !this.#ended) {
      this.#link?.send({ kind: Kind.WINDOW_UPDATE, callId: this.id, credit: grant });
    }
  }

  async #pumpRequests(requests: AsyncIterable<unknown>): Promise<void> {
    let it: AsyncIterator<unknown> | undefined;
    try {
      it = requests[Symbol.asyncIterator]();
      for (;;) {
        if (this.#credit.available <= 0) {
          this.#link?.flush(); // what the credit allowed leaves now, not at the turn's end
          await this.#credit.wait();
        }
        if (this.#ended) return;
        const r = await it.next();
        if (this.#ended) return;
        if (r.done) {
          it = undefined;
          this.#requestsDone = true;
          // Between attempts, the next attach sends it.
          this.#link?.send({ kind: Kind.HALF_CLOSE, callId: this.id });
          return;
        }
        let payload: Payload;
        try {
          payload = this.desc.request.encodeLazy((r.value ?? {}) as Record<string, unknown>);
        } catch (e) {
          this.fail(requestEncodeError(this.desc, e), true);
          return;
        }
        // Taken while the stream is between attempts (the provider never started it): held
        // for the next attempt, never sent on the link that refused it.
        while (this.#link === undefined && !this.#ended) await this.#nextLink();
        if (this.#ended) return;
        const link = this.#link!;
        if (!link.sendMessage({ kind: Kind.MESSAGE, callId: this.id }, payload)) {
          this.fail(
            new RpcError(
              Code.RESOURCE_EXHAUSTED,
              `request message of ${payload.length} bytes exceeds the provider's ` +
                `maxMessageBytes ${link.peerMaxMessageBytes}`,
            ),
            true,
          );
          return;
        }
        this.messagesSent++;
        this.record?.sent(payload.length);
        this.#credit.spend(messageCost(payload.length));
      }
    } catch (e) {
      it = undefined; // an iterator that threw is done
      this.fail(
        new RpcError(Code.CANCELLED, `the request stream threw: ${errorMessage(e)}`, { cause: e }),
        true,
      );
    } finally {
      if (it !== undefined) {
        try {
          await it.return?.();
        } catch {
          // The call has ended; what the request iterable does while closing no longer matters.
        }
      }
    }
  }
}
