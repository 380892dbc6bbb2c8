// deno-lint-ignore-file no-import-prefix
/**
 * The one place where third-party packages are pinned. Repairs of their behaviour live next to
 * the code that uses them (`schema/_protobuf_internals.ts`, `registry/zookeeper/zk_client_patches.ts`).
 *
 * Full `npm:` specifiers are used on purpose instead of bare names from deno.json's import
 * map: users import `mod.ts` by URL, and a module imported by URL does not see its own
 * deno.json, so a bare `"protobufjs"` would fail to resolve for them. The ZooKeeper client is
 * pinned in deps_zookeeper.ts, loaded only when a ZooKeeperRegistry connects, so a program that
 * uses the static registry never needs it.
 *
 * @module
 */
export { default as protobuf } from "npm:protobufjs@7.5.4";
// The descriptor extension (google/protobuf/descriptor.proto's messages, and Root <->
// FileDescriptorSet); importing it also adds `toDescriptor`/`fromDescriptor` to the reflection
// classes of the same protobufjs instance. Used by reflection (src/schema/file_descriptors.ts).
export { default as protobufDescriptor } from "npm:protobufjs@7.5.4/ext/descriptor/index.js";
export { Buffer } from "node:buffer";
export {
  context,
  createTraceState,
  isSpanContextValid,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "npm:@opentelemetry/api@1.9.0";
