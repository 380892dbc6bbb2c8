/**
 * The original's user example, provider side: UserServiceRpc with Login and Register.
 *
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/user/provider.ts -i examples/user/test.conf
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/user/provider.ts --port 8000
 *   deno run --unstable-net --allow-net=127.0.0.1 --allow-read=. examples/user/provider.ts --workers 4
 *   deno run --allow-net=127.0.0.1 --allow-read=examples examples/user/provider.ts --admin-port 9100
 *
 * @module
 */
import { RpcProvider } from "../../mod.ts";
import { providerOptions } from "../../config.ts";
import { main, onShutdown, PROVIDER_FIELDS } from "../_shared.ts";

await main("provider", PROVIDER_FIELDS, async (env) => {
  const provider = new RpcProvider({
    // host, port, maxMessageBytes, legacy (--legacy: also serve C++ mprpc callers), workers,
    // admin (--admin-port: metrics, the console page and /rpcz over HTTP).
    ...providerOptions(env.config),
    registry: env.zookeeper,
    logger: env.logger,
    // setup(provider) adds the service in every event loop (with --workers, in each Worker).
    workerModule: new URL("./user_service.ts", import.meta.url),
  });
  const removeSignals = onShutdown(() => provider.close({ graceMs: 2000 }));
  try {
    await provider.start();
    const { host, port } = provider.address;
    console.log(`UserServiceRpc provider listening on ${host}:${port}`);
    const admin = provider.adminAddress;
    if (admin) console.log(`console page: http://${admin.host}:${admin.port}/`);
    await provider.run();
  } finally {
    removeSignals();
    await provider.close();
  }
  console.log("provider stopped");
});
