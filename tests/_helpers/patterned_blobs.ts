/**
 * Byte payloads that differ per call and along the array, and checks that a received one is
 * intact: for tests of buffers that must not be overwritten while someone holds them.
 *
 * @module
 */
import assert from "node:assert/strict";

/** A message with a main payload and two small parts, all patterned by `id`. */
export interface Blob {
  id: number;
  data: Uint8Array;
  parts: Uint8Array[];
}

/** Bytes that differ for every `id` (and along the array). */
export function pattern(id: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (id * 151 + i * 7 + (i >>> 8)) & 0xff;
  return b;
}

/** The blob of call `id`: a `size`-byte payload and two small parts. */
export function blob(id: number, size: number): Blob {
  return { id, data: pattern(id, size), parts: [pattern(id + 1, 40), pattern(id + 2, 9)] };
}

/** A short fingerprint of `bytes` (length, checksum, ends), for assertion messages. */
export function digest(bytes: Uint8Array): string {
  let sum = 0;
  for (const b of bytes) sum = (sum * 31 + b) >>> 0;
  return `${bytes.length}:${sum}:${bytes.subarray(0, 8).join(",")}:${bytes.subarray(-8).join(",")}`;
}

/** Asserts `got` is the blob of call `id` with a `size`-byte payload, byte for byte. */
export function assertBlob(got: Blob, id: number, size: number, what = ""): void {
  assert.equal(got.id, id);
  const want = blob(id, size);
  assert.equal(digest(got.data), digest(want.data), `data of call ${id} (${size} bytes) ${what}`);
  assert.equal(got.parts.length, 2, `parts of call ${id}`);
  assert.equal(digest(got.parts[0]!), digest(want.parts[0]!), `part 0 of call ${id} ${what}`);
  assert.equal(digest(got.parts[1]!), digest(want.parts[1]!), `part 1 of call ${id} ${what}`);
}

/** The values of `results`; throws the first rejection. */
export function values<T>(results: PromiseSettledResult<T>[]): T[] {
  for (const r of results) if (r.status === "rejected") throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * What `promises` resolve to, once every one has settled (so a failing assertion leaves no call
 * pending); throws the first rejection.
 */
export async function settled<T>(promises: Promise<T>[]): Promise<T[]> {
  return values(await Promise.allSettled(promises));
}
