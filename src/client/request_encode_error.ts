/**
 * The error of a request message that cannot be encoded (a field of the wrong type, out of
 * range, unknown): the same text for unary calls and every kind of stream.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { MethodDescriptor } from "../schema/method_descriptor.ts";
import { errorMessage } from "../util/error_message.ts";

/**
 * `INVALID_ARGUMENT: cannot encode <type> for <service>.<method>: <why>`.
 *
 * @example
 * ```ts ignore
 * try {
 *   payload = desc.request.encode(request);
 * } catch (e) {
 *   throw requestEncodeError(desc, e);
 * }
 * ```
 */
export function requestEncodeError(
  desc: Pick<MethodDescriptor, "request" | "service" | "name">,
  cause: unknown,
): RpcError {
  return new RpcError(
    Code.INVALID_ARGUMENT,
    `cannot encode ${desc.request.type.fullName.slice(1)} for ${desc.service}.${desc.name}: ${
      errorMessage(cause)
    }`,
  );
}
