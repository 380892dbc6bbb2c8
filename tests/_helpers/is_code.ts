/**
 * An `assert.rejects` validator: the error is an `RpcError` of `code`, and its message matches
 * `message` (a RegExp) or equals it (a string).
 *
 * @module
 */
import assert from "node:assert/strict";
import { RpcError } from "../../src/errors.ts";

/** Validates that a rejection is an `RpcError` of `code` (and, if given, of `message`). */
export function isCode(code: number, message?: RegExp | string): (e: unknown) => true {
  return (e: unknown) => {
    assert.ok(e instanceof RpcError, `expected an RpcError, got ${e}`);
    assert.equal(e.codeName, new RpcError(code, "").codeName, e.message);
    if (typeof message === "string") assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}
