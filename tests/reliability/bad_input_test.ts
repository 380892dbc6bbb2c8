/**
 * Bad configuration files and bad `.proto` files fail with errors that say where: file, line
 * and the key, field or type at fault.
 */
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.ts";
import { loadProto, ProtoError } from "../../src/schema/load_proto.ts";

async function withFiles(
  files: Record<string, string>,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_bad_input_" });
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function configError(path: string): Promise<ConfigError> {
  try {
    await loadConfig(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  throw new assert.AssertionError({ message: `${path} loaded without an error` });
}

async function protoError(path: string | string[]): Promise<ProtoError> {
  try {
    await loadProto(path);
  } catch (e) {
    assert.ok(e instanceof ProtoError, `expected a ProtoError, got ${e}`);
    return e;
  }
  throw new assert.AssertionError({ message: `${path} loaded without an error` });
}

Deno.test("a config line without '=' is reported with its file and line", async () => {
  await withFiles(
    { "a.conf": "# provider\nrpcserverip=127.0.0.1\nrpcserverport 8000\n" },
    async (d) => {
      const e = await configError(`${d}/a.conf`);
      assert.equal(e.file, `${d}/a.conf`);
      assert.equal(e.line, 3);
      assert.equal(e.message, `${d}/a.conf:3: missing "=" in "rpcserverport 8000"`);
    },
  );
});

Deno.test("a bad config value is reported with its file, line, key and value", async () => {
  const files = {
    "port.conf": "rpcserverip=127.0.0.1\n\nrpcserverport=99999 # too big\n",
    "level.conf": "loglevel=LOUD\r\n",
    "host.conf": "rpcserverip=not a host\n",
    "ms.conf": "timeoutms=-5\n",
  };
  await withFiles(files, async (d) => {
    const port = await configError(`${d}/port.conf`);
    assert.deepEqual([port.line, port.key], [3, "rpcserverport"]);
    assert.equal(port.message, `${d}/port.conf:3: rpcserverport: "99999" is not a port (1..65535)`);
    const level = await configError(`${d}/level.conf`);
    assert.deepEqual([level.line, level.key], [1, "loglevel"]);
    assert.match(level.message, /level\.conf:1: loglevel: "LOUD" is not a log level/);
    const host = await configError(`${d}/host.conf`);
    assert.deepEqual([host.line, host.key], [1, "rpcserverip"]);
    assert.match(host.message, /"not a host" is not a host name or IP address/);
    const ms = await configError(`${d}/ms.conf`);
    assert.deepEqual([ms.line, ms.key], [1, "timeoutms"]);
    assert.match(ms.message, /timeoutms: "-5" is not an integer/);
  });
});

Deno.test("a missing config file is reported by path", async () => {
  await withFiles({}, async (d) => {
    const e = await configError(`${d}/nope.conf`);
    assert.equal(e.file, `${d}/nope.conf`);
    assert.match(e.message, /cannot read config file ".*nope\.conf": no such file/);
  });
});

Deno.test("a .proto syntax error is reported with its file and line", async () => {
  const text = 'syntax = "proto3";\npackage p;\nmessage A {\n  string x = 1\n  int32 y = 2;\n}\n';
  await withFiles({ "syn.proto": text }, async (d) => {
    const e = await protoError(`${d}/syn.proto`);
    assert.equal(e.file, `${d}/syn.proto`);
    assert.match(e.message, /syn\.proto/);
    assert.match(e.message, /illegal token 'int32', ';' expected \(.*line 5\)/);
  });
});

Deno.test("a syntax error in an imported .proto names the imported file", async () => {
  await withFiles({
    "main.proto": 'syntax = "proto3";\npackage p;\nimport "dep.proto";\nmessage A { B b = 1; }\n',
    "dep.proto": 'syntax = "proto3";\npackage p;\nmessage B {\n  int32 g = 1\n}\n',
  }, async (d) => {
    const e = await protoError(`${d}/main.proto`);
    assert.equal(e.file, `${d}/dep.proto`);
    assert.match(e.message, /dep\.proto.*line 5/);
  });
});

Deno.test("an unknown type is reported with the file and the type's name", async () => {
  const text =
    'syntax = "proto3";\npackage p;\nmessage A {\n  string x = 1;\n  Missing y = 2;\n}\n' +
    "service S { rpc M(A) returns (Nope); }\n";
  await withFiles({ "unk.proto": text }, async (d) => {
    const e = await protoError(`${d}/unk.proto`);
    assert.equal(e.file, `${d}/unk.proto`);
    assert.match(e.message, /unk\.proto/);
    assert.match(e.message, /'Missing' in Type \.p\.A/);
  });
});

Deno.test("a missing import is reported with the path that was looked for", async () => {
  await withFiles({
    "imp.proto":
      'syntax = "proto3";\npackage p;\nimport "nothere.proto";\nmessage A { string x = 1; }\n',
  }, async (d) => {
    const e = await protoError(`${d}/imp.proto`);
    assert.equal(e.file, `${d}/nothere.proto`);
    assert.match(e.message, /Cannot read proto file .*nothere\.proto/);
  });
});

// Regression guard for a fixed bug (src/schema/load_proto.ts, loadProto → resolveAll(root, first)): an unresolved type
// in an imported file is reported against the FIRST file given, not the file that uses it.
// Fix: set `protobuf.parse.filename = file` in parseInto (protobufjs then stamps `.filename` on
// every type and field), and on a resolve failure report the failing object's `filename`
// (e.g. walk root.nestedArray for a field whose resolve() throws).
Deno.test("an unknown type in an imported .proto names the imported file", async () => {
  await withFiles({
    "main.proto": 'syntax = "proto3";\npackage p;\nimport "dep.proto";\nmessage A { B b = 1; }\n',
    "dep.proto": 'syntax = "proto3";\npackage p;\nmessage B {\n  Ghost g = 1;\n}\n',
  }, async (d) => {
    const e = await protoError(`${d}/main.proto`);
    assert.match(e.message, /'Ghost'/);
    assert.equal(e.file, `${d}/dep.proto`, `reported against ${e.file}: ${e.message}`);
  });
});
