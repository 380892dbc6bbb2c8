/**
 * A typed stub call against an untyped one, for `deno bench -A bench/typed_bench.ts`: the same
 * `UserServiceRpc.Login` (100-byte request), 64 concurrent calls over loopback to a provider in
 * the same process, through `channel.stub(UserServiceRpc)` (the generated module of
 * examples/user) and through `channel.stub(root.lookupService(...))` (the `.proto` loaded at run
 * time), each on its own channel. The typed stub is the untyped stub of the definition's
 * service, so the two should measure the same within noise. A second group measures
 * `channel.stub(...)` itself, both ways (no I/O).
 *
 * @module
 */
import { ConsoleLogger, loadProto, RpcChannel, RpcProvider } from "../mod.ts";
import { UserServiceRpc } from "../examples/user/user_pb.ts";

const BATCH = 64;
const quiet = new ConsoleLogger("CRITICAL");
const request = { name: new Uint8Array(48).fill(65), pwd: new Uint8Array(48).fill(66) };

const provider = new RpcProvider({ host: "127.0.0.1", port: 0, logger: quiet });
provider.notifyService(UserServiceRpc, {
  Login: (req) => ({ success: req.name.length === 48 }),
  Register: () => ({ success: true }),
});
await provider.start();

const typedChannel = new RpcChannel({ address: provider.address, logger: quiet });
const typed = typedChannel.stub(UserServiceRpc);

const root = await loadProto(new URL("../examples/user/user.proto", import.meta.url));
const untypedChannel = new RpcChannel({ address: provider.address, logger: quiet });
const untyped = untypedChannel.stub(root.lookupService("fixbug.UserServiceRpc"));

// Warm both paths up alike (JIT, connection buffers) before either is measured, so that the
// first benchmark of the group does not pay for the warm-up of the shared call path.
for (let i = 0; i < 300; i++) {
  await Promise.all([typed.Login(request), untyped.Login!(request)]);
}

Deno.bench({
  name: `untyped stub.Login: ${BATCH} concurrent calls (loopback, same process)`,
  group: "typed",
  baseline: true,
  async fn() {
    const calls = [];
    for (let i = 0; i < BATCH; i++) calls.push(untyped.Login!(request));
    await Promise.all(calls);
  },
});

Deno.bench({
  name: `typed stub.Login (generated module): ${BATCH} concurrent calls`,
  group: "typed",
  async fn() {
    const calls = [];
    for (let i = 0; i < BATCH; i++) calls.push(typed.Login(request));
    await Promise.all(calls);
  },
});

// The first benchmark of a group runs while the process is still settling (deno bench's own
// warm-up, GC): the untyped stub again, last, shows how much of a difference is that order.
Deno.bench({
  name: `untyped stub.Login again, after the typed one: ${BATCH} concurrent calls`,
  group: "typed",
  async fn() {
    const calls = [];
    for (let i = 0; i < BATCH; i++) calls.push(untyped.Login!(request));
    await Promise.all(calls);
  },
});

// What `channel.stub(S)` costs when a program asks for the stub on every call (no I/O): the
// definition's service is parsed once, so both are a cached lookup.
const service = root.lookupService("fixbug.UserServiceRpc");
Deno.bench({
  name: "channel.stub(service): the cached stub of a protobuf Service",
  group: "stub lookup",
  baseline: true,
  fn() {
    untypedChannel.stub(service);
  },
});
Deno.bench({
  name: "channel.stub(UserServiceRpc): the cached stub of a generated definition",
  group: "stub lookup",
  fn() {
    typedChannel.stub(UserServiceRpc);
  },
});

globalThis.addEventListener("unload", () => {
  // deno bench does not wait for these; closing keeps a clean shutdown all the same.
  void typedChannel.close().catch(() => {});
  void untypedChannel.close().catch(() => {});
  void provider.close({ graceMs: 0 }).catch(() => {});
});
