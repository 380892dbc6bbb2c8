import assert from "node:assert/strict";
import { parseProto } from "../../src/schema/load_proto.ts";
import { decodeFileDescriptors, fileDescriptors } from "../../src/schema/file_descriptors.ts";
import { methodText, protoText } from "../../src/schema/proto_text.ts";

const TEXT = `syntax = "proto3";
package demo;
message Req {
  message Page { uint32 size = 1; string token = 2; }
  enum Order { ASC = 0; DESC = 1; }
  Page page = 1;
  Order order = 2;
  map<string, int64> counts = 3;
  oneof key { string name = 4; sint64 id = 5; }
  repeated double scores = 6;
}
message Res { repeated Req.Page pages = 1; }
service Search { rpc Find(Req) returns (Res); }`;

function printed(text: string): string {
  const root = parseProto(text, "search.proto");
  return protoText(decodeFileDescriptors(fileDescriptors(root.lookupService("demo.Search")))[0]);
}

Deno.test("protoText prints messages, nested types, maps, oneofs, enums and services", () => {
  assert.equal(
    printed(TEXT),
    `// search.proto
syntax = "proto3";

package demo;

message Req {
  Req.Page page = 1;
  Req.Order order = 2;
  map<string, int64> counts = 3;
  oneof key {
    string name = 4;
    sint64 id = 5;
  }
  repeated double scores = 6;
  message Page {
    uint32 size = 1;
    string token = 2;
  }
  enum Order {
    ASC = 0;
    DESC = 1;
  }
}

message Res {
  repeated Req.Page pages = 1;
}

service Search {
  rpc Find(Req) returns (Res);
}
`,
  );
});

Deno.test("printed text parses back into the same descriptors", () => {
  const once = printed(TEXT);
  assert.equal(printed(once.replace(/^\/\/.*\n/, "")), once);
});

Deno.test("methodText prints the rpc line and its request and response messages", () => {
  const files = decodeFileDescriptors(
    fileDescriptors(parseProto(TEXT, "search.proto").lookupService("demo.Search")),
  );
  const text = methodText(files, "demo.Search", "Find");
  assert.ok(
    text.startsWith("// demo.Search\nrpc Find(Req) returns (Res);\n\n// demo.Req\nmessage Req {\n"),
  );
  assert.ok(text.includes("// demo.Res\nmessage Res {\n  repeated Req.Page pages = 1;\n}\n"));
  assert.throws(() => methodText(files, "demo.Search", "Lose"), TypeError);
});
