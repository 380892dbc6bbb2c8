/**
 * A worker module (`RpcProviderOptions.workerModule`) serving `feed.Feed` on every event loop of
 * a provider with `workers`; each message of `Count` and the answer of `Sum` name the event
 * loop that served them (`main`, or the Worker's name) in `loop`.
 *
 * @module
 */
import type { RpcProvider } from "../../src/server/rpc_provider.ts";
import { feedImpl, feedService, type Num, type Tick } from "../_helpers/feed.ts";
import { Events } from "../_helpers/kitchen.ts";

const inWorker = "WorkerGlobalScope" in globalThis;
const LOOP = inWorker ? (self as unknown as { name: string }).name : "main";

/** Adds `feed.Feed`, labelled with this event loop's name. */
export default async function setup(provider: RpcProvider): Promise<void> {
  provider.notifyService(await feedService(), {
    ...feedImpl(new Events()),
    async *Count(req: Tick) {
      for (let i = 1; i <= (req.count ?? 0); i++) yield { n: i, loop: LOOP };
    },
    async Sum(reqs: AsyncIterable<Num>) {
      let n = 0;
      for await (const r of reqs) n += r.n;
      return { n, loop: LOOP };
    },
  });
}
