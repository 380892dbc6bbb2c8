/**
 * The friend example's service: FriendServiceRpc.GetFriendsList returns a repeated list;
 * WatchFriends streams friends coming online and going offline. A worker module:
 * `setup(provider)` runs in every event loop of a provider with `--workers`.
 *
 * @module
 */
import { Code, RpcError, type RpcProvider } from "../../mod.ts";
import { utf8 } from "../_shared.ts";
// Generated from friend.proto (deno task gen:examples): typed requests, responses and handlers.
import { FriendServiceRpc } from "./friend_pb.ts";

const friends = new Map<number, string[]>([
  [1000, ["gao yang", "liu hong", "wang shuo"]],
]);

/** Adds FriendServiceRpc to `provider`. */
export default function setup(provider: RpcProvider): void {
  provider.notifyService(FriendServiceRpc, {
    GetFriendsList(req) {
      console.log(`doing local service: GetFriendsList(${req.userid})`);
      const list = friends.get(req.userid);
      if (list === undefined) throw new RpcError(Code.NOT_FOUND, `no user ${req.userid}`);
      return { result: { errcode: 0, errmsg: new Uint8Array() }, friends: list.map(utf8) };
    },
    // A server stream: an async generator. It waits between events until the caller stops
    // (breaking out of its loop aborts ctx.signal) or max_events were sent.
    async *WatchFriends(req, ctx) {
      const list = friends.get(req.userid);
      if (list === undefined) throw new RpcError(Code.NOT_FOUND, `no user ${req.userid}`);
      const online = new Set<string>();
      for (let i = 0; req.maxEvents === 0 || i < req.maxEvents; i++) {
        if (i > 0) await pause(100, ctx.signal);
        if (ctx.signal.aborted) return;
        const name = list[i % list.length]!;
        const now = !online.delete(name);
        if (now) online.add(name);
        yield { name: utf8(name), online: now };
      }
    },
  });
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
