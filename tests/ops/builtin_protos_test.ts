import assert from "node:assert/strict";
import { HEALTH_PROTO } from "../../src/ops/health_service.ts";
import { REFLECTION_PROTO } from "../../src/ops/reflection_service.ts";

Deno.test("the embedded health and reflection .proto texts are proto/'s files", async () => {
  const read = (name: string) => Deno.readTextFile(new URL(`../../proto/${name}`, import.meta.url));
  assert.equal(HEALTH_PROTO, await read("health.proto"));
  assert.equal(REFLECTION_PROTO, await read("reflection.proto"));
});
