import assert from "node:assert/strict";
import {
  channelOptions,
  ConfigError,
  configUsage,
  DEFAULT_CONFIG,
  parseArgs,
  providerOptions,
  resolveConfig,
  zookeeperOptions,
} from "../../config.ts";
import * as root from "../../mod.ts";

const CALLER_FIELDS = ["zookeeperIp", "zookeeperPort", "timeoutMs", "logLevel"] as const;

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("a flag of a setting the program does not honour is an error naming the flag", () => {
  const e = configError(() => parseArgs(["--workers", "4"], { fields: CALLER_FIELDS }));
  assert.equal(e.message, 'flag "--workers" is not used by this program (see --help)');
  assert.equal(e.source, "--workers");
  assert.equal(
    configError(() => parseArgs(["--legacy"], { fields: CALLER_FIELDS })).message,
    'flag "--legacy" is not used by this program (see --help)',
  );
  const ok = parseArgs(["--zk", "127.0.0.1:2181", "--timeout-ms=100"], { fields: CALLER_FIELDS });
  assert.deepEqual(ok.overrides, {
    zookeeperIp: "127.0.0.1",
    zookeeperPort: 2181,
    timeoutMs: 100,
  });
});

Deno.test("resolveConfig with fields refuses the flags of other settings", async () => {
  await assert.rejects(
    resolveConfig({ args: ["--port", "1"], env: {}, fields: ["timeoutMs"] }),
    (e: unknown) => e instanceof ConfigError && e.message.startsWith('flag "--port" is not used'),
  );
});

Deno.test("configUsage lists exactly the flags the same fields accept", () => {
  const text = configUsage("caller", { fields: CALLER_FIELDS });
  assert.match(text, /--timeout-ms <ms>/);
  assert.match(text, /--zk <host:port>/);
  assert.doesNotMatch(text, /--workers|--legacy|--port/);
  assert.match(configUsage("provider"), /--workers <n>/);
});

Deno.test("flag spellings: -i=file, --no-legacy, --legacy=no, --flag=-value and --", () => {
  assert.equal(parseArgs(["-i=a.conf"]).configFile, "a.conf");
  assert.equal(parseArgs(["--legacy", "--no-legacy"]).overrides.legacy, false);
  assert.equal(parseArgs(["--no-legacy=no"]).overrides.legacy, true);
  assert.equal(parseArgs(["--legacy=no"]).overrides.legacy, false);
  assert.deepEqual(parseArgs(["a", "--", "--port", "x"]).rest, ["a", "--port", "x"]);
  assert.equal(
    configError(() => parseArgs(["--port", "-5"])).message,
    '--port: missing value (write --port=<value> for a value starting with "-")',
  );
  assert.equal(
    configError(() => parseArgs(["--port=-5"])).message,
    '--port: rpcserverport: "-5" is not a port (1..65535)',
  );
  assert.equal(configError(() => parseArgs(["--help=yes"])).message, "--help: takes no value");
  assert.equal(configError(() => parseArgs(["--config"])).message, "--config: missing value");
  // The last flag wins, in command-line order.
  assert.equal(parseArgs(["--port", "1", "--port", "2"]).overrides.rpcServerPort, 2);
});

Deno.test("providerOptions, channelOptions and zookeeperOptions map a configuration", () => {
  const config = {
    ...DEFAULT_CONFIG,
    rpcServerIp: "::1",
    rpcServerPort: 9000,
    workers: 3,
    legacy: true,
    timeoutMs: 1234,
    maxMessageBytes: 1000,
    zookeeperIp: "10.0.0.1",
    zookeeperPort: 2182,
  };
  assert.deepEqual(providerOptions(config), {
    host: "::1",
    port: 9000,
    maxMessageBytes: 1000,
    legacy: true,
    workers: 3,
  });
  assert.deepEqual(channelOptions(config), { timeoutMs: 1234, maxMessageBytes: 1000 });
  assert.deepEqual(zookeeperOptions(config), {
    connect: "10.0.0.1:2182",
    root: "/mprpc",
    sessionTimeoutMs: 30000,
    connectTimeoutMs: 10000,
  });
  assert.equal(zookeeperOptions(DEFAULT_CONFIG), undefined);
});

Deno.test("the configuration's defaults are the constructors' named defaults", () => {
  assert.equal(DEFAULT_CONFIG.timeoutMs, root.DEFAULT_TIMEOUT_MS);
  assert.equal(DEFAULT_CONFIG.maxMessageBytes, root.DEFAULT_MAX_MESSAGE_BYTES);
  assert.equal(DEFAULT_CONFIG.sessionTimeoutMs, root.DEFAULT_SESSION_TIMEOUT_MS);
  assert.equal(
    DEFAULT_CONFIG.zookeeperConnectTimeoutMs,
    root.DEFAULT_ZOOKEEPER_CONNECT_TIMEOUT_MS,
  );
});

Deno.test("the root export carries no config or flag plumbing", () => {
  for (const name of ["parseArgs", "configUsage", "resolveConfig", "loadConfig", "ConfigError"]) {
    assert.equal(name in root, false, name);
  }
});
