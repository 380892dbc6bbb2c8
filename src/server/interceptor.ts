/**
 * Interceptors: code that runs around every handler of a provider (authentication, logging,
 * metrics), composed once when a service is added so calls pay nothing when there are none.
 *
 * @module
 */
import { Code, RpcError } from "../errors.ts";
import type { CallContext } from "./call_context.ts";
import type { Handler } from "./server_connection.ts";

/** Calls the rest of the chain (the next interceptor, or the handler). */
// deno-lint-ignore no-explicit-any
export type Next = (request: any, ctx: CallContext) => unknown;

/**
 * Runs around a handler: may inspect `ctx` (metadata, peer, method), throw an `RpcError` to
 * refuse the call, change the request, or wrap the result of `next`.
 */
// deno-lint-ignore no-explicit-any
export type Interceptor = (request: any, ctx: CallContext, next: Next) => unknown;

/**
 * Composes interceptors (outermost first) around `handler`.
 *
 * @example
 * ```ts
 * import { compose } from "./interceptor.ts";
 * const seen: string[] = [];
 * const h = compose([(req, ctx, next) => {
 *   seen.push("before");
 *   return next(req, ctx);
 * }], (req) => ({ echo: req.x }));
 * const out = await h({ x: 1 }, {} as never);
 * if (seen[0] !== "before" || (out as { echo: number }).echo !== 1) throw new Error();
 * ```
 */
export function compose(interceptors: readonly Interceptor[], handler: Handler): Handler {
  if (interceptors.length === 0) return handler;
  return (request, ctx) => {
    let index = -1;
    const dispatch = (i: number, req: unknown, c: CallContext): unknown => {
      if (i <= index) throw new Error("next() called multiple times in an interceptor");
      index = i;
      const fn = interceptors[i];
      if (fn === undefined) return handler(req, c);
      return fn(req, c, (r, c2) => dispatch(i + 1, r, c2));
    };
    return dispatch(0, request, ctx);
  };
}

/** Options of {@linkcode tokenAuth}. */
export interface TokenAuthOptions {
  /** Metadata key holding the token; default `"authorization"` (a `Bearer ` prefix is removed). */
  key?: string;
  /** Whether the token is genuine; false ⇒ `UNAUTHENTICATED`. */
  verify: (token: string, ctx: CallContext) => boolean | Promise<boolean>;
  /** Whether this (genuine) token may call `ctx.service`/`ctx.method`; false ⇒ `PERMISSION_DENIED`. */
  allow?: (token: string, ctx: CallContext) => boolean | Promise<boolean>;
}

/**
 * An interceptor that authenticates calls by a token in the request metadata: a call without
 * the token or with a bad one is refused with `UNAUTHENTICATED`, one whose token may not call
 * the method with `PERMISSION_DENIED`; the handler never runs for either.
 *
 * @example
 * ```ts ignore
 * const provider = new RpcProvider({
 *   interceptors: [tokenAuth({
 *     verify: (t) => t === Deno.env.get("API_TOKEN"),
 *     allow: (_t, ctx) => ctx.method !== "Drop",
 *   })],
 * });
 * // caller: stub.Login(req, { metadata: { authorization: `Bearer ${token}` } })
 * ```
 */
export function tokenAuth(options: TokenAuthOptions): Interceptor {
  const key = options.key ?? "authorization";
  return async (request, ctx, next) => {
    const raw = ctx.metadata[key];
    if (raw === undefined || raw === "") {
      throw new RpcError(Code.UNAUTHENTICATED, `missing "${key}" metadata`);
    }
    const token = raw.startsWith("Bearer ") ? raw.slice(7) : raw;
    if (!(await options.verify(token, ctx))) {
      throw new RpcError(Code.UNAUTHENTICATED, `invalid credentials in "${key}" metadata`);
    }
    if (options.allow && !(await options.allow(token, ctx))) {
      throw new RpcError(
        Code.PERMISSION_DENIED,
        `not allowed to call ${ctx.service}.${ctx.method}`,
      );
    }
    return await next(request, ctx);
  };
}
