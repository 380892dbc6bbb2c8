/**
 * The types of a method of a generated service definition: what its caller sends and receives,
 * what its handler receives and returns. Type-level only.
 *
 * @module
 */

import type { MethodKind } from "../schema/method_descriptor.ts";

/**
 * The types of one method. `Req`/`Res` are what a receiver gets (every field present),
 * `ReqInit`/`ResInit` what a sender may pass (every field optional).
 */
export interface MethodTypes<K extends MethodKind, Req, ReqInit, Res, ResInit> {
  /** How the method streams. */
  readonly kind: K;
  /** The request as the handler receives it. */
  readonly request: Req;
  /** The request as the caller may pass it. */
  readonly requestInit: ReqInit;
  /** The response as the caller receives it. */
  readonly response: Res;
  /** The response as the handler may return it. */
  readonly responseInit: ResInit;
}

/** A unary method: `rpc M(A) returns (B)`. */
export type UnaryMethod<Req, ReqInit, Res, ResInit> = MethodTypes<
  "unary",
  Req,
  ReqInit,
  Res,
  ResInit
>;

/** A server-streaming method: `rpc M(A) returns (stream B)`. */
export type ServerStreamingMethod<Req, ReqInit, Res, ResInit> = MethodTypes<
  "server_stream",
  Req,
  ReqInit,
  Res,
  ResInit
>;

/** A client-streaming method: `rpc M(stream A) returns (B)`. */
export type ClientStreamingMethod<Req, ReqInit, Res, ResInit> = MethodTypes<
  "client_stream",
  Req,
  ReqInit,
  Res,
  ResInit
>;

/** A bidirectional-streaming method: `rpc M(stream A) returns (stream B)`. */
export type BidiStreamingMethod<Req, ReqInit, Res, ResInit> = MethodTypes<
  "bidi",
  Req,
  ReqInit,
  Res,
  ResInit
>;

/**
 * A stub's lowerCamelCase alias of the method named `Name` (`login` for `Login`). Aliases are
 * stub names only: a typed implementation names each method as the `.proto` does.
 */
export interface MethodAlias<Name extends string> {
  /** The method this alias stands for. */
  readonly alias: Name;
}

/**
 * What a sender may give for an enum field whose const object is `E`: a value name or a defined
 * value number.
 *
 * @example
 * ```ts
 * import type { EnumInit } from "../../mod.ts";
 * const Color = { RED: 0, GREEN: 1 } as const;
 * const a: EnumInit<typeof Color> = "GREEN";
 * const b: EnumInit<typeof Color> = 0;
 * // @ts-expect-error: 7 is no value of Color
 * const c: EnumInit<typeof Color> = 7;
 * void [a, b, c];
 * ```
 */
export type EnumInit<E extends Readonly<Record<string, number>>> = (keyof E & string) | E[keyof E];
