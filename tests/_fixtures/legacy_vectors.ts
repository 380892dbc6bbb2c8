/**
 * The original C++ mprpc's bytes, captured from a build of it: the fixtures every
 * legacy-protocol test checks against.
 *
 * @module
 */

/** Bytes from hex with spaces. */
export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return new Uint8Array((clean.match(/../g) ?? []).map((b) => parseInt(b, 16)));
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** caller → provider: `Login(name "alice", pwd "s3cret")`. */
export const LOGIN_REQUEST: Uint8Array = hex(
  "19000000 0a0e 55736572536572766963655270 63 1205 4c6f67696e 180f 0a05 616c696365 1206 733363726574",
);
/** caller → provider: `Register(id 2001, name "Kejiang", pwd "666666")`. */
export const REGISTER_REQUEST: Uint8Array = hex(
  "1c0000000a0e557365725365727669636552706312085265676973746572181408d10f12074b656a69616e671a06363636363636",
);
/** provider → caller: Login with `success=false` and an empty `result`. */
export const LOGIN_REPLY: Uint8Array = hex("0a00");
/** provider → caller: Register with `success=true`. */
export const REGISTER_REPLY: Uint8Array = hex("0a001001");
