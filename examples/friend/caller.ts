/**
 * The original's friend example, caller side.
 *
 *   deno run -A examples/friend/caller.ts -i examples/friend/test.conf
 *
 * @module
 */
import { type CallOptions, loadProto, RpcChannel, RpcError } from "../../mod.ts";
import { callerRegistry, setup, text } from "../_shared.ts";

interface FriendServiceStub {
  GetFriendsList(
    req: { userid: number },
    opts?: CallOptions,
  ): Promise<{ result: { errcode: number } | null; friends: Uint8Array[] }>;
}

const env = await setup("caller");
const root = await loadProto(new URL("./friend.proto", import.meta.url));
const channel = new RpcChannel({
  registry: callerRegistry(env, "fixbug.FriendServiceRpc"),
  timeoutMs: env.config.timeoutMs,
  logger: env.logger,
});
let failed = false;
try {
  const stub = channel.stub<FriendServiceStub>(root.lookupService("fixbug.FriendServiceRpc"));
  const res = await stub.GetFriendsList({ userid: 1000 });
  console.log(`rpc GetFriendsList(1000) -> ${res.friends.length} friends:`);
  res.friends.forEach((f, i) => console.log(`  index:${i + 1} name:${text(f)}`));
  try {
    await stub.GetFriendsList({ userid: 42 });
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    console.log(`rpc GetFriendsList(42) -> ${e.codeName}: ${e.message}`);
  }
} catch (e) {
  console.error(`rpc call failed: ${e}`);
  failed = true;
} finally {
  await channel.close();
  await env.close();
}
if (failed) Deno.exit(1);
