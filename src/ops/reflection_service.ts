/**
 * The built-in reflection service, `mprpc.reflection.v1.Reflection` (proto/reflection.proto):
 * `ListServices` names every service a provider serves (the built-in ones included), and
 * `FileContainingService({ service })` returns the serialized `google.protobuf.FileDescriptorProto`s
 * of the file declaring it and of every file it needs, so a client can call the service without
 * its `.proto` (the `mprpc` CLI does).
 *
 * @module
 */
import type { protobuf } from "../deps.ts";
import { Code, RpcError } from "../errors.ts";
import { fileDescriptors } from "../schema/file_descriptors.ts";
import { parseProto } from "../schema/load_proto.ts";
import type { Handler } from "../server/server_connection.ts";

/** The text of proto/reflection.proto (embedded, so a provider imported by URL reads no file). */
export const REFLECTION_PROTO =
  `// The reflection service every provider serves (unless \`reflection: false\`): see
// docs/operations.md. src/ops/reflection_service.ts embeds this file.
syntax = "proto3";

package mprpc.reflection.v1;

message ListServicesRequest {}

message ListServicesResponse {
  repeated string services = 1; // package-qualified names, sorted, built-in services included
}

message FileContainingServiceRequest {
  string service = 1; // package-qualified service name
}

message FileContainingServiceResponse {
  // Serialized google.protobuf.FileDescriptorProto messages: the file declaring the service
  // first, then every file it imports (directly or not), each once.
  repeated bytes file_descriptor_proto = 1;
}

service Reflection {
  rpc ListServices(ListServicesRequest) returns (ListServicesResponse);
  rpc FileContainingService(FileContainingServiceRequest) returns (FileContainingServiceResponse);
}
`;

/** The package-qualified name of the reflection service. */
export const REFLECTION_SERVICE = "mprpc.reflection.v1.Reflection";

let service: protobuf.Service | undefined;

/**
 * The reflection service's reflection object (parsed once).
 *
 * @example Listing what a provider serves
 * ```ts
 * import { RpcChannel, RpcProvider } from "../../mod.ts";
 * import { reflectionService } from "./reflection_service.ts";
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
 * await provider.start();
 * const channel = new RpcChannel({ address: provider.address, timeoutMs: 5000 });
 * const reflection = channel.stub(reflectionService());
 * const { services } = await reflection.ListServices!({});
 * if (!services.includes("mprpc.health.v1.Health")) throw new Error(services.join());
 * await channel.close();
 * await provider.close();
 * ```
 */
export function reflectionService(): protobuf.Service {
  return service ??= parseProto(REFLECTION_PROTO, "reflection.proto").lookupService(
    REFLECTION_SERVICE,
  );
}

/** The handlers of the reflection service over the services `served()` returns. */
export function reflectionHandlers(
  served: () => ReadonlyMap<string, protobuf.Service>,
): Record<string, Handler> {
  const files = new WeakMap<protobuf.Service, Uint8Array[]>();
  return {
    ListServices: () => ({ services: [...served().keys()].sort() }),
    FileContainingService: (req: { service: string }) => {
      const svc = served().get(req.service);
      if (svc === undefined) {
        throw new RpcError(Code.NOT_FOUND, `service "${req.service}" is not served here`);
      }
      let list = files.get(svc);
      if (list === undefined) files.set(svc, list = fileDescriptors(svc));
      return { fileDescriptorProto: list };
    },
  };
}
