/**
 * The friend example's service (examples/friend/friend_service.ts) streams WatchFriends: the
 * events alternate online/offline per friend, `max_events` bounds them, and a caller breaking out
 * of its loop ends the stream.
 */
import assert from "node:assert/strict";
import { ConsoleLogger, loadProto, RpcChannel, RpcProvider } from "../../mod.ts";
import type { ServerStreamMethod } from "../../mod.ts";
import setup from "../../examples/friend/friend_service.ts";

interface FriendStub {
  WatchFriends: ServerStreamMethod<
    { userid: number; maxEvents?: number },
    { name: Uint8Array; online: boolean }
  >;
}

Deno.test("the friend example's WatchFriends streams presence events", async () => {
  const logger = new ConsoleLogger("CRITICAL");
  const provider = new RpcProvider({ logger });
  const log = console.log;
  console.log = () => {}; // the example's handlers print what they do
  try {
    await setup(provider);
    await provider.start();
    await using channel = new RpcChannel({ address: provider.address, logger });
    const root = await loadProto(new URL("../../examples/friend/friend.proto", import.meta.url));
    const stub = channel.stub<FriendStub>(root.lookupService("fixbug.FriendServiceRpc"));
    const td = new TextDecoder();
    const events: string[] = [];
    for await (const ev of stub.WatchFriends({ userid: 1000, maxEvents: 4 })) {
      events.push(`${td.decode(ev.name)}:${ev.online}`);
    }
    assert.deepEqual(events, [
      "gao yang:true",
      "liu hong:true",
      "wang shuo:true",
      "gao yang:false",
    ]);
    let n = 0;
    for await (const _ of stub.WatchFriends({ userid: 1000 })) if (++n === 2) break;
    assert.equal(n, 2);
  } finally {
    console.log = log;
    await provider.close({ graceMs: 0 });
  }
});
