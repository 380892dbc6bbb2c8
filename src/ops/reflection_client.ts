/**
 * The caller's side of reflection: what a provider serves, and a service's types rebuilt from
 * the descriptors it sends (so a client calls it without the `.proto`).
 *
 * @module
 */
import type { protobuf } from "../deps.ts";
import type { CallOptions } from "../client/call_options.ts";
import type { RpcChannel } from "../client/rpc_channel.ts";
import { decodeFileDescriptors, rootFromFileDescriptors } from "../schema/file_descriptors.ts";
import { reflectionService } from "./reflection_service.ts";

type ReflectionStub = {
  ListServices(req: object, o?: CallOptions): Promise<{ services: string[] }>;
  FileContainingService(
    req: { service: string },
    o?: CallOptions,
  ): Promise<{ fileDescriptorProto: Uint8Array[] }>;
};

/** A service as reflection describes it. */
export interface ReflectedService {
  /** The service, in a root holding every type it needs. */
  service: protobuf.Service;
  /** The decoded `FileDescriptorProto`s: the service's file first, then its imports. */
  // deno-lint-ignore no-explicit-any
  files: any[];
}

/**
 * The names of the services the provider behind `channel` serves (built-in ones included).
 *
 * @example
 * ```ts
 * import { RpcChannel, RpcProvider } from "../../mod.ts";
 * import { listServices } from "./reflection_client.ts";
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
 * const names = await listServices(channel);
 * if (!names.includes("mprpc.reflection.v1.Reflection")) throw new Error(names.join());
 * await channel.close();
 * await provider.close();
 * ```
 */
export async function listServices(channel: RpcChannel, options?: CallOptions): Promise<string[]> {
  const stub = channel.stub<ReflectionStub>(reflectionService());
  return (await stub.ListServices({}, options)).services;
}

/**
 * `service` (package-qualified) as the provider behind `channel` describes it.
 *
 * @example Learning a service's methods from the provider itself
 * ```ts
 * import { RpcChannel, RpcProvider } from "../../mod.ts";
 * import { reflectService } from "./reflection_client.ts";
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
 * const { service } = await reflectService(channel, "mprpc.health.v1.Health");
 * if (!("Check" in service.methods)) throw new Error(Object.keys(service.methods).join());
 * await channel.close();
 * await provider.close();
 * ```
 *
 * @throws {RpcError} `NOT_FOUND` when the provider does not serve it, or the call's error.
 */
export async function reflectService(
  channel: RpcChannel,
  service: string,
  options?: CallOptions,
): Promise<ReflectedService> {
  const stub = channel.stub<ReflectionStub>(reflectionService());
  const { fileDescriptorProto } = await stub.FileContainingService({ service }, options);
  const root = rootFromFileDescriptors(fileDescriptorProto);
  return {
    service: root.lookupService(service),
    files: decodeFileDescriptors(fileDescriptorProto),
  };
}
