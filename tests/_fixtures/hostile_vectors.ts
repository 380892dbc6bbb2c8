/**
 * Hostile byte sequences shared by the wire and reliability tests.
 *
 * @module
 */

/**
 * 22 bytes that once spun a provider (and a caller) at 100% CPU for good: a native frame
 * (`4D525043 0000000A 0000000A`) whose meta holds call id 9 (`10 09`) and a metadata entry
 * (`42 06`) with a key whose length varint `FA FF FF FF 0F` is 2^32-6, -6 as an int32.
 */
export const OVERFLOWING_METADATA_FRAME: Uint8Array = Uint8Array.from([
  0x4d,
  0x52,
  0x50,
  0x43,
  0x00,
  0x00,
  0x00,
  0x0a,
  0x00,
  0x00,
  0x00,
  0x0a,
  0x10,
  0x09,
  0x42,
  0x06,
  0x0a,
  0xfa,
  0xff,
  0xff,
  0xff,
  0x0f,
]);
