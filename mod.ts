/**
 * mprpc: Deno-native RPC over protobuf and TCP, with ZooKeeper service discovery.
 *
 * Providers serve protobuf services (loaded from `.proto` files at run time, no build step) over
 * a framed, multiplexed TCP protocol and announce themselves in a registry; callers call them
 * through stubs as if they were local functions. Modules generated from the `.proto`
 * (`deno task gen`, docs/typed.md) make stubs and handlers typed: `channel.stub(S)`,
 * `provider.notifyService(S, impl)` with `S` a {@linkcode ServiceDefinition}.
 *
 * @example A provider and a caller in one program
 * ```ts
 * import { parseProto, RpcChannel, RpcProvider } from "./mod.ts";
 *
 * const root = parseProto(`syntax = "proto3"; package demo;
 *   message Hello { string name = 1; }
 *   message Greeting { string text = 1; }
 *   service Greeter { rpc Greet(Hello) returns (Greeting); }`);
 * const service = root.lookupService("demo.Greeter");
 *
 * const provider = new RpcProvider({ host: "127.0.0.1", port: 0 });
 * provider.notifyService(service, { Greet: (req) => ({ text: `hello ${req.name}` }) });
 * await provider.start();
 *
 * const channel = new RpcChannel({ address: provider.address });
 * const greeter = channel.stub(service);
 * const reply = await greeter.Greet!({ name: "deno" });
 * if (reply.text !== "hello deno") throw new Error(reply.text);
 *
 * await channel.close();
 * await provider.close();
 * ```
 *
 * @module
 */

export { Code, codeName, RpcError, type RpcErrorOptions } from "./src/errors.ts";
export {
  loadProto,
  type LoadProtoOptions,
  parseProto,
  ProtoError,
  type Root,
} from "./src/schema/load_proto.ts";
export { type Message, type MethodKind, serviceName } from "./src/schema/method_descriptor.ts";
export {
  type CloseOptions,
  RpcProvider,
  type RpcProviderOptions,
  type ServiceOptions,
} from "./src/server/rpc_provider.ts";
export type { Handler } from "./src/server/server_connection.ts";
export { CallContext, type PeerAddress } from "./src/server/call_context.ts";
export {
  compose,
  type Interceptor,
  type Next,
  tokenAuth,
  type TokenAuthOptions,
} from "./src/server/interceptor.ts";
export { RpcChannel, type RpcChannelOptions } from "./src/client/rpc_channel.ts";
export type { ChannelProtocol, LegacyEmptyReply } from "./src/legacy/legacy_call.ts";
export type {
  BidiStreamMethod,
  CallOptions,
  ClientStreamMethod,
  ServerStreamMethod,
  Stub,
  StubMethod,
} from "./src/client/call_options.ts";
export type { ResponseStream } from "./src/client/response_stream.ts";
export { RpcController } from "./src/client/rpc_controller.ts";
export { BufferLoan } from "./src/client/buffer_loan.ts";
export { type ProtoFile, protoFile } from "./src/typed/proto_file.ts";
export { defineService, ServiceDefinition } from "./src/typed/service_definition.ts";
export type {
  BidiStreamingMethod,
  ClientStreamingMethod,
  EnumInit,
  MethodAlias,
  MethodTypes,
  ServerStreamingMethod,
  UnaryMethod,
} from "./src/typed/method_types.ts";
export type { MethodsOf, TypedStub, TypedStubMethod } from "./src/typed/typed_stub.ts";
export type { ServiceImpl, TypedHandler } from "./src/typed/service_impl.ts";
export {
  type Balancer,
  type BalancerName,
  type Candidate,
  createBalancer,
} from "./src/client/balancer.ts";
export type { TlsClientOptions, TlsServerOptions } from "./src/transport/listen.ts";
export {
  type Endpoint,
  endpointKey,
  parseEndpoint,
  type Registry,
  type RegistryWatch,
  type ResolveOptions,
  type ServiceRegistration,
  type WatchOptions,
} from "./src/registry/registry.ts";
export { StaticRegistry } from "./src/registry/static_registry.ts";
export {
  HEALTH_SERVICE,
  healthService,
  HealthStatus,
  type HealthStatusName,
} from "./src/ops/health_service.ts";
export { REFLECTION_SERVICE, reflectionService } from "./src/ops/reflection_service.ts";
export {
  listServices,
  type ReflectedService,
  reflectService,
} from "./src/ops/reflection_client.ts";
export {
  ZooKeeperRegistry,
  type ZooKeeperRegistryOptions,
  type ZooKeeperSessionStats,
} from "./src/registry/zookeeper/zookeeper_registry.ts";
export { type ZooKeeperAclEntry, ZooKeeperPerms } from "./src/registry/zookeeper/zk_acl.ts";
export {
  ConsoleLogger,
  type LevelName,
  type LogFields,
  type Logger,
  LogLevels,
} from "./src/log/logger.ts";
export {
  AsyncLogger,
  type AsyncLoggerOptions,
  type AsyncLoggerState,
  type OverflowPolicy,
} from "./src/log/async_logger.ts";
export {
  AsyncLoggerHandler,
  type AsyncLoggerHandlerOptions,
  type StdLogRecord,
} from "./src/log/std_handler.ts";
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SESSION_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
} from "./src/defaults.ts";
export type {
  MethodMetricsSnapshot,
  MetricsSnapshot,
  ZooKeeperMetrics,
} from "./src/observe/metrics.ts";
export { LATENCY_BUCKETS_SECONDS } from "./src/observe/histogram.ts";
export { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from "./src/observe/prometheus.ts";
export type { AdminOptions } from "./src/observe/admin_server.ts";
export { STATUS_CODE_ATTRIBUTE, TRACER_NAME } from "./src/observe/tracing.ts";
