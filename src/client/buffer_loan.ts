/**
 * A caller's loan of receive buffers: responses decoded under it keep their `bytes` fields as
 * views into the connection's receive buffer instead of copies, until the loan is released.
 *
 * @module
 */
import type { ReceiveLease } from "../transport/receive_buffers.ts";

let hold: (loan: BufferLoan, lease: ReceiveLease) => void;

/**
 * Pass it as a call's `loan` option: the response's `bytes` fields are then views into the
 * connection's receive buffer (no allocation, no copy), which the connection does not read
 * into again until {@linkcode BufferLoan.release} (or the end of a `using` block) gives it
 * back. Use what the response holds before that, and copy (`bytes.slice()`) anything kept
 * longer. One loan may cover many calls; it can be used again after a release. A loan never
 * released costs only the reuse: its buffers are garbage-collected like any others (but while
 * unreleased loans hold 1 MiB of a connection's read buffers, that connection copies the
 * responses it would lend out of its read buffer).
 *
 * Responses that cannot be lent are decoded as without it (the `"mprpc-legacy"` protocol,
 * streaming calls, response types without `bytes` fields): the option is an optimization that
 * never changes what a call returns. Through `channel.createRpcImpl({ loan })` (protobufjs's
 * `Service.create`), the whole response, bytes in, is lent: decode it before the release.
 *
 * @example Reading large responses without allocating per call
 * ```ts
 * import { BufferLoan, parseProto, RpcChannel, RpcProvider } from "../../mod.ts";
 * const root = parseProto(`syntax = "proto3"; package demo;
 *   message Req { uint32 n = 1; } message Blob { bytes data = 1; }
 *   service Files { rpc Read(Req) returns (Blob); }`);
 * const files = root.lookupService("demo.Files");
 * const provider = new RpcProvider({ port: 0 });
 * provider.notifyService(files, { Read: (req) => ({ data: new Uint8Array(req.n as number) }) });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address });
 * const read = channel.stub(files).Read!;
 * let total = 0;
 * for (let i = 0; i < 3; i++) {
 *   using loan = new BufferLoan();
 *   const blob = await read({ n: 100_000 }, { loan });
 *   total += (blob.data as Uint8Array).length; // used before the loan ends
 * }
 * if (total !== 300_000) throw new Error(String(total));
 * await channel.close();
 * await provider.close();
 * ```
 */
export class BufferLoan implements Disposable {
  #one: ReceiveLease | undefined = undefined;
  #more: ReceiveLease[] | undefined = undefined;

  static {
    hold = (loan, lease) => loan.#hold(lease);
  }

  /** Receive buffers lent to it and not yet given back. */
  get size(): number {
    return (this.#one === undefined ? 0 : 1) + (this.#more?.length ?? 0);
  }

  /**
   * Gives back every buffer lent so far: the `bytes` of the responses decoded under the loan
   * may be overwritten from now on. The loan can be used again.
   */
  release(): void {
    const one = this.#one;
    const more = this.#more;
    this.#one = undefined;
    this.#more = undefined;
    one?.release();
    if (more !== undefined) { for (const lease of more) lease.release(); }
  }

  /** {@linkcode BufferLoan.release}, for `using`. */
  [Symbol.dispose](): void {
    this.release();
  }

  #hold(lease: ReceiveLease): void {
    if (this.#one === undefined) this.#one = lease;
    else (this.#more ??= []).push(lease);
  }
}

/** Adds `lease` to `loan` (it is released with the loan). */
export function holdLease(loan: BufferLoan, lease: ReceiveLease): void {
  hold(loan, lease);
}
