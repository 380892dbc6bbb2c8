import assert from "node:assert/strict";
import { loadProto, parseProto, ProtoError } from "../../src/schema/load_proto.ts";
import { describeMethod, describeService, typeCodec } from "../../src/schema/method_descriptor.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_proto_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const COMMON = `syntax = "proto3";
package shop.common;
message Money { string currency = 1; int64 units = 2; }
`;

const TYPES = `syntax = "proto3";
package shop.types;
import "sku.proto";
import "../common.proto"; // the same file main.proto imports: loaded once
message Item { shop.types.Sku sku = 1; shop.common.Money price = 2; }
`;

const SKU = `syntax = "proto3";
package shop.types;
message Sku { string code = 1; }
`;

const MAIN = `syntax = "proto3";
package shop;
import "common.proto";
import "sub/types.proto";
import "google/protobuf/timestamp.proto";
message Order {
  repeated shop.types.Item items = 1;
  shop.common.Money total = 2;
  google.protobuf.Timestamp placed_at = 3;
}
message OrderId { string id = 1; }
service Orders {
  rpc Place(Order) returns (OrderId);
}
`;

Deno.test("loadProto follows imports from other files and the well-known timestamp.proto", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/common.proto`, COMMON);
    // An import in sub/ is resolved next to the importing file (protobufjs's rule).
    await Deno.writeTextFile(`${dir}/sub/sku.proto`, SKU);
    await Deno.writeTextFile(`${dir}/sub/types.proto`, TYPES);
    await Deno.writeTextFile(`${dir}/main.proto`, MAIN);

    const root = await loadProto(`${dir}/main.proto`);
    const service = root.lookupService("shop.Orders");
    const place = describeMethod(service.methods["Place"]!);
    assert.equal(place.service, "shop.Orders");
    assert.equal(place.request.type.fullName, ".shop.Order");

    const order = {
      items: [{ sku: { code: "A-1" }, price: { currency: "EUR", units: "9007199254740993" } }],
      total: { currency: "EUR", units: 5 },
      placedAt: { seconds: "1700000000", nanos: 123 },
    };
    const back = place.request.decode(place.request.encode(order));
    assert.deepEqual(back.items, [
      { sku: { code: "A-1" }, price: { currency: "EUR", units: "9007199254740993" } },
    ]);
    assert.deepEqual(back.total, { currency: "EUR", units: "5" });
    assert.deepEqual(back.placedAt, { seconds: "1700000000", nanos: 123 });
  });
});

Deno.test("loadProto accepts a file: URL and a list of files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/a.proto`,
      `syntax = "proto3"; package a; message A { string x = 1; }`,
    );
    await Deno.writeTextFile(
      `${dir}/b.proto`,
      `syntax = "proto3"; package b; message B { int32 y = 1; }`,
    );
    const fromUrl = await loadProto(new URL(`file://${dir}/a.proto`));
    assert.ok(fromUrl.lookupType("a.A"));
    const both = await loadProto([`${dir}/a.proto`, new URL(`file://${dir}/b.proto`)]);
    assert.ok(both.lookupType("a.A"));
    assert.ok(both.lookupType("b.B"));
  });
});

Deno.test("parseProto resolves a google/protobuf import without touching the file system", () => {
  const root = parseProto(`syntax = "proto3"; package t;
    import "google/protobuf/timestamp.proto";
    import "google/protobuf/empty.proto";
    message Ev { google.protobuf.Timestamp at = 1; }
    service S { rpc Get(google.protobuf.Empty) returns (Ev); }`);
  const [get] = describeService(root.lookupService("t.S"));
  assert.equal(get!.request.type.fullName, ".google.protobuf.Empty");
  assert.deepEqual(get!.response.decode(get!.response.encode({ at: { seconds: 1, nanos: 2 } })), {
    at: { seconds: "1", nanos: 2 },
  });
});

Deno.test("parseProto reports a syntax error with the file name and the line", () => {
  const text = `syntax = "proto3";
package broken;
message Oops {
  string name = 1
  int32 age = 2;
}
`;
  assert.throws(() => parseProto(text, "broken.proto"), (e: unknown) => {
    assert.ok(e instanceof ProtoError, String(e));
    assert.equal(e.file, "broken.proto");
    assert.match(e.message, /broken\.proto/);
    assert.match(e.message, /line 5/);
    return true;
  });
});

Deno.test("loadProto reports a syntax error with the path and the line", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/bad.proto`,
      `syntax = "proto3";\n\nmessage M {\n  strin g x = 1;\n}\n`,
    );
    await assert.rejects(loadProto(`${dir}/bad.proto`), (e: unknown) => {
      assert.ok(e instanceof ProtoError, String(e));
      assert.equal(e.file, `${dir}/bad.proto`);
      assert.ok(e.message.includes(`${dir}/bad.proto`), e.message);
      assert.match(e.message, /line 4/);
      return true;
    });
  });
});

Deno.test("loadProto of a missing file throws ProtoError naming the path", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/nope/missing.proto`;
    await assert.rejects(loadProto(path), (e: unknown) => {
      assert.ok(e instanceof ProtoError, String(e));
      assert.equal(e.file, path);
      assert.ok(e.message.includes(path), e.message);
      assert.ok(e.cause instanceof Deno.errors.NotFound);
      return true;
    });
  });
});

Deno.test("loadProto of a file importing a missing file names the missing import", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/main.proto`,
      `syntax = "proto3"; import "absent.proto"; message M { string x = 1; }`,
    );
    await assert.rejects(loadProto(`${dir}/main.proto`), (e: unknown) => {
      assert.ok(e instanceof ProtoError, String(e));
      assert.equal(e.file, `${dir}/absent.proto`);
      assert.ok(e.message.includes(`${dir}/absent.proto`), e.message);
      return true;
    });
  });
});

Deno.test("an unresolved type name throws ProtoError naming the type", async () => {
  assert.throws(
    () =>
      parseProto(
        `syntax = "proto3"; package u; message M { Missing thing = 1; }`,
        "unresolved.proto",
      ),
    (e: unknown) => {
      assert.ok(e instanceof ProtoError, String(e));
      assert.match(e.message, /unresolved\.proto/);
      assert.match(e.message, /Missing/);
      return true;
    },
  );
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/svc.proto`,
      `syntax = "proto3"; package u; message M { string x = 1; } service S { rpc Go(M) returns (Nowhere); }`,
    );
    await assert.rejects(loadProto(`${dir}/svc.proto`), (e: unknown) => {
      assert.ok(e instanceof ProtoError, String(e));
      assert.match(e.message, /Nowhere/);
      return true;
    });
  });
});

Deno.test("parseProto refuses a non-well-known import and points to loadProto", () => {
  assert.throws(
    () => parseProto(`syntax = "proto3"; import "other.proto";`, "x.proto"),
    (e: unknown) =>
      e instanceof ProtoError &&
      /Cannot resolve import "other\.proto" in x\.proto/.test(e.message) &&
      /loadProto/.test(e.message),
  );
});

Deno.test("typeCodec marks types with bytes fields, directly or nested", () => {
  const root = parseProto(`syntax = "proto3"; package c;
    message Leaf { bytes blob = 1; }
    message Mid { Leaf leaf = 1; }
    message Top { repeated Mid mids = 1; }
    message Plain { string s = 1; Plain self = 2; }`);
  assert.equal(typeCodec(root.lookupType("c.Top")).hasBytes, true);
  assert.equal(typeCodec(root.lookupType("c.Leaf")).hasBytes, true);
  assert.equal(typeCodec(root.lookupType("c.Plain")).hasBytes, false, "recursion terminates");
});

Deno.test("describeMethod tells each method's streaming kind", () => {
  const root = parseProto(`syntax = "proto3"; package st;
    message M { string s = 1; }
    service Feed {
      rpc Get(M) returns (M);
      rpc Watch(M) returns (stream M);
      rpc Upload(stream M) returns (M);
      rpc Chat(stream M) returns (stream M);
    }`);
  assert.deepEqual(
    describeService(root.lookupService("st.Feed")).map((d) => `${d.name}:${d.kind}`),
    ["Get:unary", "Watch:server_stream", "Upload:client_stream", "Chat:bidi"],
  );
});

Deno.test("imports resolve like protoc -I: next to the importer, then the given file's directory, then includePaths", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/proto/common`, { recursive: true });
    await Deno.mkdir(`${dir}/proto/svc`, { recursive: true });
    await Deno.mkdir(`${dir}/vendor/ext`, { recursive: true });
    await Deno.writeTextFile(
      `${dir}/proto/common/types.proto`,
      `syntax = "proto3"; package common; message Id { string v = 1; }`,
    );
    await Deno.writeTextFile(
      `${dir}/vendor/ext/extra.proto`,
      `syntax = "proto3"; package ext; message Extra { int32 n = 1; }`,
    );
    await Deno.writeTextFile(
      `${dir}/proto/svc/a.proto`,
      `syntax = "proto3"; package svc; import "common/types.proto"; import "ext/extra.proto";
       message A { common.Id id = 1; ext.Extra extra = 2; }`,
    );
    await Deno.writeTextFile(
      `${dir}/proto/main.proto`,
      `syntax = "proto3"; package main; import "svc/a.proto"; import "common/types.proto";
       service S { rpc Get(common.Id) returns (svc.A); }`,
    );
    const root = await loadProto(`${dir}/proto/main.proto`, { includePaths: [`${dir}/vendor`] });
    assert.equal(root.lookupType("svc.A").fields["id"]!.resolvedType!.fullName, ".common.Id");
    assert.equal(root.lookupType("ext.Extra").fields["n"]!.type, "int32");
    await assert.rejects(
      () => loadProto(`${dir}/proto/main.proto`),
      (e: Error) => e.message.includes("ext/extra.proto"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const STAMPED = (pkg: string) =>
  `syntax = "proto3"; package ${pkg};
import "google/protobuf/timestamp.proto";
import "google/protobuf/any.proto";
message Event { google.protobuf.Timestamp at = 1; google.protobuf.Any detail = 2; }
`;

Deno.test("several files that import the same well-known proto load together into one root", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/a.proto`, STAMPED("a"));
    await Deno.writeTextFile(`${dir}/b.proto`, STAMPED("b"));
    const root = await loadProto([`${dir}/a.proto`, `${dir}/b.proto`]);
    for (const name of ["a.Event", "b.Event"]) {
      const codec = typeCodec(root.lookupType(name));
      const event = { at: { seconds: "-1", nanos: 5 }, detail: null };
      assert.deepEqual(codec.decode(codec.encode(event)), event);
    }
    // And once per file, into separate roots.
    const [a, b] = await Promise.all([loadProto(`${dir}/a.proto`), loadProto(`${dir}/b.proto`)]);
    assert.notEqual(
      a.lookupType("google.protobuf.Timestamp"),
      b.lookupType("google.protobuf.Timestamp"),
    );
  });
});

Deno.test("well-known types have camelCase field names, like the types of parsed files", () => {
  const root = parseProto(STAMPED("c"));
  const any = typeCodec(root.lookupType("google.protobuf.Any"));
  const msg = { typeUrl: "type.googleapis.com/c.Event", value: new Uint8Array([8, 1]) };
  assert.deepEqual(any.decode(any.encode(msg)), msg);
  const value = parseProto(`syntax = "proto3"; import "google/protobuf/struct.proto";`)
    .lookupType("google.protobuf.Value");
  assert.deepEqual(Object.keys(value.fields).sort(), [
    "boolValue",
    "listValue",
    "nullValue",
    "numberValue",
    "stringValue",
    "structValue",
  ]);
});

Deno.test("every loadProto failure is a ProtoError naming the file", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/one.proto`, `syntax = "proto3"; package d; message M {}`);
    await Deno.writeTextFile(`${dir}/two.proto`, `syntax = "proto3"; package d; message M {}`);
    await assert.rejects(loadProto([`${dir}/one.proto`, `${dir}/two.proto`]), (e: unknown) => {
      assert.ok(e instanceof ProtoError);
      assert.equal(e.file, `${dir}/two.proto`);
      assert.match(e.message, /duplicate name 'M'/);
      return true;
    });
  });
  await assert.rejects(loadProto("http://[not a host/x.proto"), (e: unknown) => {
    assert.ok(e instanceof ProtoError);
    assert.match(e.message, /http:\/\/\[not a host\/x\.proto/);
    return true;
  });
});

Deno.test("protobufjs's JSON form of Any (@type) still keeps the type URL with camelCase fields", () => {
  const root = parseProto(`syntax = "proto3"; package p;
    import "google/protobuf/any.proto";
    message Leaf { string label = 1; }`);
  const any = root.lookupType("google.protobuf.Any");
  const message = any.fromObject({ "@type": "type.googleapis.com/p.Leaf", label: "x" });
  const back = any.decode(any.encode(message).finish());
  assert.equal((any.toObject(back) as { typeUrl: string }).typeUrl, "type.googleapis.com/p.Leaf");
  assert.deepEqual(any.toObject(back, { json: true }), {
    label: "x",
    "@type": "type.googleapis.com/p.Leaf",
  });
});
