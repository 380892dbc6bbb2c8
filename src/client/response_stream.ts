/**
 * The caller's view of a call whose provider answers with a stream of messages.
 *
 * @module
 */

/**
 * The responses of a server-streaming or bidirectional call: iterate it with `for await`.
 * Breaking out of the loop (or calling `cancel()`) cancels the call on the provider. An error
 * the provider ends the stream with is thrown by the iteration, after every message that was
 * sent before it.
 */
export interface ResponseStream<T> extends AsyncIterable<T> {
  /** The provider's response headers, once its first frame of this call arrives. */
  readonly headers: Promise<Record<string, string>>;
  /** The response metadata the provider ended the stream with (rejects as the iteration throws). */
  readonly trailers: Promise<Record<string, string>>;
  /** Cancels the call: the provider's `ctx.signal` aborts with `CANCELLED`. */
  cancel(reason?: unknown): void;
}
