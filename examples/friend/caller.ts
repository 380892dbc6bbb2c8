/**
 * The original's friend example, caller side.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/friend/caller.ts -i examples/friend/test.conf
 *
 * @module
 */
import { RpcChannel, RpcError } from "../../mod.ts";
import { channelOptions } from "../../config.ts";
import { CALLER_FIELDS, callerRegistry, main, text } from "../_shared.ts";
// Generated from friend.proto (deno task gen:examples): typed requests and responses.
import { FriendServiceRpc } from "./friend_pb.ts";

await main("caller", CALLER_FIELDS, async (env) => {
  await using channel = new RpcChannel({
    ...channelOptions(env.config),
    registry: callerRegistry(env, "fixbug.FriendServiceRpc"),
    logger: env.logger,
  });
  const stub = channel.stub(FriendServiceRpc);
  const res = await stub.GetFriendsList({ userid: 1000 });
  console.log(`rpc GetFriendsList(1000) -> ${res.friends.length} friends:`);
  res.friends.forEach((f, i) => console.log(`  index:${i + 1} name:${text(f)}`));
  try {
    await stub.GetFriendsList({ userid: 42 });
  } catch (e) {
    if (!(e instanceof RpcError)) throw e;
    console.log(`rpc GetFriendsList(42) -> ${e.codeName}: ${e.message}`);
  }
  // A server stream: iterate it; breaking out of the loop would cancel it on the provider.
  console.log("rpc WatchFriends(1000) ->");
  for await (const ev of stub.WatchFriends({ userid: 1000, maxEvents: 4 })) {
    console.log(`  ${text(ev.name)} is ${ev.online ? "online" : "offline"}`);
  }
});
