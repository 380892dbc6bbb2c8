import assert from "node:assert/strict";
import {
  ConfigError,
  configUsage,
  DEFAULT_CONFIG,
  envOverrides,
  loadConfig,
  parseArgs,
  parseConfig,
  resolveConfig,
  zookeeperConnect,
} from "../../config.ts";

/** The repository root, so the example files are found from any working directory. */
const ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname).replace(/\/$/, "");

/** The sample file of the original C++ mprpc, comments and all. */
const ORIGINAL = [
  "# rpc节点的ip地址",
  "rpcserverip=127.0.0.1",
  "# rpc节点的port端口号",
  "rpcserverport=8000",
  "# zk的ip地址",
  "zookeeperip=127.0.0.1",
  "# zk的port端口号",
  "zookeeperport=2181",
  "",
].join("\n");

/** Asserts that `fn` throws a ConfigError with exactly `message`, and returns it. */
function throwsConfigError(fn: () => unknown, message: string): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    assert.equal(e.message, message);
    return e;
  }
  assert.fail(`expected ConfigError: ${message}`);
}

Deno.test("the original mprpc sample file parses to its four settings plus defaults", () => {
  const { config, warnings } = parseConfig(ORIGINAL, "test.conf");
  assert.deepEqual(warnings, []);
  assert.deepEqual(config, {
    ...DEFAULT_CONFIG,
    rpcServerIp: "127.0.0.1",
    rpcServerPort: 8000,
    zookeeperIp: "127.0.0.1",
    zookeeperPort: 2181,
  });
  assert.equal(zookeeperConnect(config), "127.0.0.1:2181");
});

Deno.test("an empty file gives the documented defaults and no ZooKeeper", () => {
  const { config } = parseConfig("");
  assert.deepEqual(config, {
    rpcServerIp: "127.0.0.1",
    rpcServerPort: 8000,
    zookeeperRoot: "/mprpc",
    sessionTimeoutMs: 30000,
    zookeeperConnectTimeoutMs: 10000,
    logLevel: "INFO",
    timeoutMs: 30000,
    maxMessageBytes: 4194304,
    legacy: false,
    workers: 1,
  });
  assert.equal("zookeeperIp" in config, false);
  assert.equal(zookeeperConnect(config), undefined);
});

Deno.test("comments, surrounding spaces, tabs, CRLF, a BOM and blank lines are handled", () => {
  const text =
    "\uFEFF# header\r\n\r\n   rpcserverip =  10.0.0.5  \r\n\trpcserverport\t=\t9001 # port\r\n" +
    "loglevel = debug#trailing\r\n   # indented comment\r\nlegacy = yes\r\nlogdir = /var/log/a=b\r\n";
  const { config, warnings } = parseConfig(text, "crlf.conf");
  assert.deepEqual(warnings, []);
  assert.equal(config.rpcServerIp, "10.0.0.5");
  assert.equal(config.rpcServerPort, 9001);
  assert.equal(config.logLevel, "DEBUG");
  assert.equal(config.legacy, true);
  assert.equal(config.logDir, "/var/log/a=b"); // split at the first "=" only
});

Deno.test("every toolkit key is parsed into its camelCase field", () => {
  const { config } = parseConfig(
    [
      "zookeeperroot=/rpc/prod",
      "sessiontimeoutms=15000",
      "zookeeperconnecttimeoutms=2000",
      "logdir=/tmp/logs",
      "loglevel=ERROR",
      "timeoutms=250",
      "maxmessagebytes=1048576",
      "legacy=on",
      "workers=2",
      "RpcServerPort=8005", // keys are case-insensitive
    ].join("\n"),
  );
  assert.equal(config.zookeeperRoot, "/rpc/prod");
  assert.equal(config.sessionTimeoutMs, 15000);
  assert.equal(config.zookeeperConnectTimeoutMs, 2000);
  assert.equal(config.logDir, "/tmp/logs");
  assert.equal(config.logLevel, "ERROR");
  assert.equal(config.timeoutMs, 250);
  assert.equal(config.maxMessageBytes, 1048576);
  assert.equal(config.legacy, true);
  assert.equal(config.workers, 2);
  assert.equal(config.rpcServerPort, 8005);
});

Deno.test("an unknown key is a warning naming file, line, key and value, and is ignored", () => {
  const seen: string[] = [];
  const { config, warnings } = parseConfig(
    "rpcserverport=8001\nrpcserverprot = 9000\n",
    "test.conf",
    { onWarning: (w) => seen.push(w) },
  );
  const expected = 'test.conf:2: unknown key "rpcserverprot" ignored (value "9000")';
  assert.deepEqual(warnings, [expected]);
  assert.deepEqual(seen, [expected]);
  assert.equal(config.rpcServerPort, 8001);
  assert.equal("rpcserverprot" in config, false);
});

Deno.test("a repeated key warns and the last value wins", () => {
  const { config, warnings } = parseConfig("workers=2\nworkers=3\n", "a.conf");
  assert.equal(config.workers, 3);
  assert.deepEqual(warnings, ["a.conf:2: workers repeated (line 1); the last one wins"]);
});

Deno.test("only the ZooKeeper host set: the port defaults to 2181; an empty host unsets both", () => {
  assert.equal(zookeeperConnect(parseConfig("zookeeperip=zk1\n").config), "zk1:2181");
  assert.equal(zookeeperConnect(parseConfig("zookeeperport=2182\n").config), "127.0.0.1:2182");
  const off = parseConfig("zookeeperport=2181\nzookeeperip=\n").config;
  assert.equal(zookeeperConnect(off), undefined);
  assert.equal(zookeeperConnect({ zookeeperIp: "::1", zookeeperPort: 2181 }), "[::1]:2181");
});

Deno.test("each bad value throws a ConfigError naming file, line, key and value", () => {
  const cases: [string, string][] = [
    ["rpcserverport=70000", 'test.conf:3: rpcserverport: "70000" is not a port (1..65535)'],
    ["rpcserverport=0", 'test.conf:3: rpcserverport: "0" is not a port (1..65535)'],
    ["rpcserverport=80x", 'test.conf:3: rpcserverport: "80x" is not a port (1..65535)'],
    ["zookeeperport=-1", 'test.conf:3: zookeeperport: "-1" is not a port (1..65535)'],
    ["rpcserverport=", "test.conf:3: rpcserverport: empty value"],
    [
      "rpcserverip=300.1.1.1",
      'test.conf:3: rpcserverip: "300.1.1.1" is not a host name or IP address',
    ],
    ["rpcserverip=a b", 'test.conf:3: rpcserverip: "a b" is not a host name or IP address'],
    ["timeoutms=5e3", 'test.conf:3: timeoutms: "5e3" is not an integer in 1..2147483647'],
    ["timeoutms=0", 'test.conf:3: timeoutms: "0" is not an integer in 1..2147483647'],
    [
      "sessiontimeoutms=1.5",
      'test.conf:3: sessiontimeoutms: "1.5" is not an integer in 1..2147483647',
    ],
    ["workers=2000", 'test.conf:3: workers: "2000" is not an integer in 1..1024'],
    [
      "maxmessagebytes=4MiB",
      'test.conf:3: maxmessagebytes: "4MiB" is not an integer in 1..2147483647',
    ],
    [
      "loglevel=LOUD",
      'test.conf:3: loglevel: "LOUD" is not a log level (NOTSET, DEBUG, INFO, WARN, ERROR, CRITICAL)',
    ],
    [
      "legacy=maybe",
      'test.conf:3: legacy: "maybe" is not a boolean (true/false, yes/no, on/off, 1/0)',
    ],
    [
      "zookeeperroot=mprpc/",
      'test.conf:3: zookeeperroot: "mprpc/" is not an absolute znode path (like "/mprpc")',
    ],
    [
      "zookeeperroot=/a//b",
      'test.conf:3: zookeeperroot: "/a//b" is not an absolute znode path (like "/mprpc")',
    ],
  ];
  for (const [line, message] of cases) {
    const e = throwsConfigError(
      () => parseConfig(`# header\nrpcserverip=127.0.0.1\n${line}\n`, "test.conf"),
      message,
    );
    assert.equal(e.file, "test.conf");
    assert.equal(e.line, 3);
    assert.equal(e.key, line.slice(0, line.indexOf("=")));
  }
});

Deno.test("malformed lines throw a ConfigError with file:line", () => {
  const e = throwsConfigError(
    () => parseConfig("rpcserverip=127.0.0.1\r\nrpcserverport 8000\r\n", "bad.conf"),
    'bad.conf:2: missing "=" in "rpcserverport 8000"',
  );
  assert.equal(e.line, 2);
  assert.equal(e.key, undefined);
  throwsConfigError(
    () => parseConfig("\n\n  = 8000\n", "bad.conf"),
    'bad.conf:3: empty key before "=" in "= 8000"',
  );
  throwsConfigError(() => parseConfig("=x"), '<string>:1: empty key before "=" in "=x"');
});

Deno.test("MPRPC_ variables are validated and errors name the variable", () => {
  assert.deepEqual(
    envOverrides({ MPRPC_RPCSERVERPORT: " 8001 ", MPRPC_LOGLEVEL: "warn", HOME: "/root" }),
    { rpcServerPort: 8001, logLevel: "WARN" },
  );
  const e = throwsConfigError(
    () => envOverrides({ MPRPC_RPCSERVERPORT: "70000" }),
    'MPRPC_RPCSERVERPORT: rpcserverport: "70000" is not a port (1..65535)',
  );
  assert.equal(e.source, "MPRPC_RPCSERVERPORT");
  assert.equal(e.line, undefined);
  const warned: string[] = [];
  envOverrides({ MPRPC_RPCSERVERPROT: "1" }, { onWarning: (w) => warned.push(w) });
  assert.deepEqual(warned, ["environment: unknown variable MPRPC_RPCSERVERPROT ignored"]);
});

Deno.test("parseArgs reads -i like the original, long flags, --zk, --legacy and rest", () => {
  assert.deepEqual(parseArgs(["-i", "test.conf"]), {
    configFile: "test.conf",
    overrides: {},
    rest: [],
    help: false,
  });
  assert.equal(parseArgs(["-itest.conf"]).configFile, "test.conf");
  assert.equal(parseArgs(["--config=a.conf"]).configFile, "a.conf");
  const p = parseArgs([
    "name",
    "--host",
    "0.0.0.0",
    "--port=9000",
    "--zk",
    "zk.local:2182",
    "--log-dir",
    "/tmp/l",
    "--log-level",
    "error",
    "--timeout-ms",
    "100",
    "--workers",
    "2",
    "--legacy",
    "--",
    "--port",
  ]);
  assert.deepEqual(p.overrides, {
    rpcServerIp: "0.0.0.0",
    rpcServerPort: 9000,
    zookeeperIp: "zk.local",
    zookeeperPort: 2182,
    logDir: "/tmp/l",
    logLevel: "ERROR",
    timeoutMs: 100,
    workers: 2,
    legacy: true,
  });
  assert.deepEqual(p.rest, ["name", "--port"]);
  assert.equal(parseArgs(["--legacy=false"]).overrides.legacy, false);
  assert.equal(parseArgs(["--no-legacy"]).overrides.legacy, false);
  assert.deepEqual(
    parseArgs(["--zookeeper-ip", "10.0.0.1", "--zookeeper-port", "2183"]).overrides,
    {
      zookeeperIp: "10.0.0.1",
      zookeeperPort: 2183,
    },
  );
  assert.equal(parseArgs(["-h"]).help, true);
  assert.equal(parseArgs(["--help"]).help, true);
  assert.match(configUsage("provider"), /^usage: provider \[-i <file>/);
});

Deno.test("parseArgs rejects unknown flags, missing values and bad values, naming the flag", () => {
  throwsConfigError(() => parseArgs(["--bogus"]), 'unknown flag "--bogus" (see --help)');
  throwsConfigError(() => parseArgs(["-x"]), 'unknown flag "-x" (see --help)');
  throwsConfigError(() => parseArgs(["-i"]), "-i: missing value");
  throwsConfigError(() => parseArgs(["--port"]), "--port: missing value");
  throwsConfigError(
    () => parseArgs(["--port", "http"]),
    '--port: rpcserverport: "http" is not a port (1..65535)',
  );
  throwsConfigError(
    () => parseArgs(["--zk", "localhost"]),
    '--zk: "localhost" is not host:port (like 127.0.0.1:2181)',
  );
  throwsConfigError(
    () => parseArgs(["--legacy=perhaps"]),
    '--legacy: legacy: "perhaps" is not a boolean (true/false, yes/no, on/off, 1/0)',
  );
});

Deno.test("resolveConfig: -i loads the file, env overrides file, flags override env", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_config_" });
  try {
    await Deno.writeTextFile(
      `${dir}/test.conf`,
      "rpcserverip=127.0.0.1\nrpcserverport=8000\ntimeoutms=100\nworkers=2\nfoo=bar\n",
    );
    // file only
    let r = await resolveConfig({ args: ["-i", "test.conf"], env: {}, cwd: dir });
    assert.equal(r.configFile, "test.conf");
    assert.equal(r.config.rpcServerPort, 8000);
    assert.equal(r.config.timeoutMs, 100);
    assert.deepEqual(r.warnings, ['test.conf:5: unknown key "foo" ignored (value "bar")']);
    // env beats file
    const env = { MPRPC_RPCSERVERPORT: "8001", MPRPC_TIMEOUTMS: "200" };
    r = await resolveConfig({ args: ["-i", "test.conf"], env, cwd: dir });
    assert.equal(r.config.rpcServerPort, 8001);
    assert.equal(r.config.timeoutMs, 200);
    assert.equal(r.config.workers, 2); // untouched file value survives
    // flags beat env
    r = await resolveConfig({ args: ["-i", `${dir}/test.conf`, "--port", "8002", "x"], env });
    assert.equal(r.config.rpcServerPort, 8002);
    assert.equal(r.config.timeoutMs, 200);
    assert.deepEqual(r.rest, ["x"]);
    // errors in the file name the path as given and the line
    await Deno.writeTextFile(`${dir}/bad.conf`, "\nrpcserverport=70000\n");
    await assert.rejects(
      resolveConfig({ args: ["--config", "bad.conf"], env: {}, cwd: dir }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message === 'bad.conf:2: rpcserverport: "70000" is not a port (1..65535)',
    );
    // --help skips reading the file, even a missing one
    r = await resolveConfig({ args: ["-i", "nope.conf", "-h"], env: {}, cwd: dir });
    assert.equal(r.help, true);
    assert.deepEqual(r.config, { ...DEFAULT_CONFIG });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an empty MPRPC_ZOOKEEPERIP turns off the ZooKeeper the file configured", async () => {
  const r = await resolveConfig({
    args: ["-i", "examples/user/test.conf"],
    cwd: ROOT,
    env: { MPRPC_ZOOKEEPERIP: "" },
  });
  assert.equal(zookeeperConnect(r.config), undefined);
  assert.equal(r.config.rpcServerPort, 8000);
});

Deno.test("loadConfig reads the example files; a missing file's error names the path", async () => {
  const user = await loadConfig(`${ROOT}/examples/user/test.conf`);
  const friend = await loadConfig(`${ROOT}/examples/friend/test.conf`);
  assert.equal(user.rpcServerPort, 8000);
  assert.equal(friend.rpcServerPort, 8001);
  assert.equal(zookeeperConnect(friend), "127.0.0.1:2181");
  await assert.rejects(loadConfig("does/not/exist.conf"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, 'cannot read config file "does/not/exist.conf": no such file');
    assert.equal(e.file, "does/not/exist.conf");
    assert.ok(e.cause instanceof Deno.errors.NotFound);
    return true;
  });
});

Deno.test("without an env option only permitted MPRPC_ variables are read, never prompting", () => {
  // Under `deno test -A` the env permission is granted: the real environment is read.
  const name = "MPRPC_WORKERS";
  const before = Deno.env.get(name);
  Deno.env.set(name, "3");
  try {
    assert.equal(envOverrides().workers, 3);
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
});

Deno.test("without env permission the variables are skipped; a per-variable grant is read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_config_env_" });
  try {
    const script = `${dir}/print_env.ts`;
    const config = JSON.stringify(import.meta.resolve("../../config.ts"));
    await Deno.writeTextFile(
      script,
      `import { envOverrides } from ${config};\nconsole.log(JSON.stringify(envOverrides()));\n`,
    );
    const run = async (flags: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-config", ...flags, script],
        env: { MPRPC_WORKERS: "3", MPRPC_TIMEOUTMS: "7" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return JSON.parse(new TextDecoder().decode(out.stdout));
    };
    assert.deepEqual(await run([]), {}); // no permission: skipped, no prompt
    assert.deepEqual(await run(["--allow-env=MPRPC_WORKERS"]), { workers: 3 });
    assert.deepEqual(await run(["--allow-env"]), { workers: 3, timeoutMs: 7 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the sample file in docs/config.md parses without warnings", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/config.md", import.meta.url));
  const sample = doc.match(/```ini\n([\s\S]*?)```/)?.[1];
  assert.ok(sample !== undefined, "docs/config.md has an ini block");
  const { config, warnings } = parseConfig(sample, "config.md");
  assert.deepEqual(warnings, []);
  assert.equal(zookeeperConnect(config), "127.0.0.1:2181");
  assert.equal(config.workers, 1);
});
