/**
 * The original's friend example, provider side: FriendServiceRpc.GetFriendsList returns a
 * repeated list.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/friend/provider.ts -i examples/friend/test.conf
 *
 * @module
 */
import { RpcProvider } from "../../mod.ts";
import { providerOptions } from "../../config.ts";
import { main, onShutdown, PROVIDER_FIELDS } from "../_shared.ts";

await main("provider", PROVIDER_FIELDS, async (env) => {
  const provider = new RpcProvider({
    ...providerOptions(env.config),
    registry: env.zookeeper,
    logger: env.logger,
    workerModule: new URL("./friend_service.ts", import.meta.url),
  });
  const removeSignals = onShutdown(() => provider.close({ graceMs: 2000 }));
  try {
    await provider.start();
    const { host, port } = provider.address;
    console.log(`FriendServiceRpc provider listening on ${host}:${port}`);
    await provider.run();
  } finally {
    removeSignals();
    await provider.close();
  }
  console.log("provider stopped");
});
