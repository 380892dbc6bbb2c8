/**
 * A service of a generated module: its name, the embedded `.proto` it comes from, and (in its
 * type) the types of its methods, so that `channel.stub(S)` and `provider.notifyService(S, impl)`
 * are checked by the type checker.
 *
 * @module
 */
import { protobuf } from "../schema/_protobuf_internals.ts";
import { type ProtoFile, protoFileRoot } from "./proto_file.ts";

/**
 * A typed service: what generated modules export for each `service` of a `.proto`. `M` maps each
 * method name to its {@linkcode MethodTypes} and each lowerCamelCase stub alias to a
 * {@linkcode MethodAlias}.
 *
 * @typeParam M The methods (a type only: nothing of it exists at run time).
 */
export class ServiceDefinition<M extends object = object> {
  /** Type-level only: the method types. Always `undefined` at run time. */
  declare readonly methodTypes?: M;
  #file: ProtoFile;
  #typeName: string;
  #service: protobuf.Service | undefined;

  /** Use {@linkcode defineService}. */
  constructor(file: ProtoFile, typeName: string) {
    this.#file = file;
    this.#typeName = typeName;
  }

  /** The package-qualified service name, e.g. `fixbug.UserServiceRpc`. */
  get typeName(): string {
    return this.#typeName;
  }

  /** The embedded `.proto` file that declares the service. */
  get file(): ProtoFile {
    return this.#file;
  }

  /**
   * The reflected service, parsed from the embedded `.proto` on first use (the same object
   * every time): what the untyped API takes.
   *
   * @throws {ProtoError} when the embedded text does not parse (a generated module never).
   * @throws {TypeError} when the file has no such service.
   */
  get service(): protobuf.Service {
    if (this.#service === undefined) {
      const found = protoFileRoot(this.#file).lookup(this.#typeName);
      if (!(found instanceof protobuf.Service)) {
        throw new TypeError(`${this.#file.name} has no service ${this.#typeName}`);
      }
      this.#service = found;
    }
    return this.#service;
  }
}

/**
 * The typed definition of service `typeName` of `file`, as generated modules declare it. The
 * type argument `M` is what makes it typed; it is not checked against the `.proto` here (the
 * generator writes both from the same file).
 *
 * @param file The embedded `.proto` that declares the service.
 * @param typeName The package-qualified service name.
 * @returns The definition; nothing is parsed until it is first used.
 *
 * @example A typed service written by hand (the generator writes the same)
 * ```ts
 * import {
 *   defineService,
 *   protoFile,
 *   RpcChannel,
 *   RpcProvider,
 *   type UnaryMethod,
 * } from "../../mod.ts";
 * type Msg = { text: string };
 * type MsgInit = { text?: string | undefined };
 * const file = protoFile("echo.proto", `syntax = "proto3"; package demo;
 *   message Msg { string text = 1; }
 *   service Echo { rpc Say(Msg) returns (Msg); }`);
 * const Echo = defineService<{ Say: UnaryMethod<Msg, MsgInit, Msg, MsgInit> }>(file, "demo.Echo");
 *
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
 * provider.notifyService(Echo, { Say: (req) => ({ text: req.text.toUpperCase() }) });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address });
 * const reply = await channel.stub(Echo).Say({ text: "hi" });
 * if (reply.text !== "HI") throw new Error(reply.text);
 * await channel.close();
 * await provider.close();
 * ```
 */
export function defineService<M extends object>(
  file: ProtoFile,
  typeName: string,
): ServiceDefinition<M> {
  return new ServiceDefinition<M>(file, typeName);
}
