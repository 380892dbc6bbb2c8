/**
 * The ACLs {@linkcode ZooKeeperRegistry} puts on the nodes it creates (private helper).
 *
 * @module
 */
import { loadZooKeeperClient, zookeeper } from "./zk_client.ts";
import type { ZkRawAcl } from "./zk_session.ts";

/**
 * ZooKeeper permission bits, for {@linkcode ZooKeeperAclEntry.perms}.
 *
 * @example
 * ```ts
 * import { ZooKeeperPerms } from "./zk_acl.ts";
 * const readWrite = ZooKeeperPerms.READ | ZooKeeperPerms.WRITE;
 * if (readWrite !== 3) throw new Error(String(readWrite));
 * ```
 */
export const ZooKeeperPerms = {
  READ: 1,
  WRITE: 2,
  CREATE: 4,
  DELETE: 8,
  ADMIN: 16,
  ALL: 31,
} as const;

/** One ACL entry: who (`scheme` + `id`) may do what (`perms`, bits of {@linkcode ZooKeeperPerms}). */
export interface ZooKeeperAclEntry {
  /** Bit set of {@linkcode ZooKeeperPerms}, 1..31. */
  perms: number;
  /** `"world"`, `"digest"`, `"ip"`, `"auth"`, ... */
  scheme: string;
  /** `"anyone"` for world, `"user:base64(sha1(user:password))"` for digest, ... */
  id: string;
}

/**
 * The digest ACL id of `"user:password"`: `user:base64(sha1("user:password"))`, as ZooKeeper's
 * `DigestAuthenticationProvider.generateDigest` computes it.
 *
 * @throws {TypeError} when the text has no `:`.
 */
export async function digestId(userPassword: string): Promise<string> {
  const i = userPassword.indexOf(":");
  if (i <= 0) {
    throw new TypeError(
      `Invalid digest auth "${userPassword.slice(0, 40)}": expected "user:password"`,
    );
  }
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(userPassword)),
  );
  return `${userPassword.slice(0, i)}:${btoa(String.fromCharCode(...hash))}`;
}

/**
 * The ACL for created nodes: `acl` when given; else, with digest `auth`, ALL for that identity
 * and READ for the world; else open (world ALL).
 */
export async function buildAcl(
  acl: ZooKeeperAclEntry[] | undefined,
  auth: { scheme: string; id: string } | undefined,
): Promise<ZkRawAcl[]> {
  let entries = acl;
  if (!entries) {
    entries = auth
      ? [
        { perms: ZooKeeperPerms.ALL, scheme: "digest", id: await digestId(auth.id) },
        { perms: ZooKeeperPerms.READ, scheme: "world", id: "anyone" },
      ]
      : [{ perms: ZooKeeperPerms.ALL, scheme: "world", id: "anyone" }];
  }
  await loadZooKeeperClient();
  return entries.map((e) => new zookeeper.ACL(e.perms, new zookeeper.Id(e.scheme, e.id)));
}

/**
 * Checks ACL entries.
 *
 * @throws {TypeError} for an empty list or an entry with bad perms/scheme/id.
 */
export function checkAcl(acl: ZooKeeperAclEntry[]): void {
  if (!Array.isArray(acl) || acl.length === 0) {
    throw new TypeError("ZooKeeperRegistry acl must be a non-empty array of {perms, scheme, id}");
  }
  for (const e of acl) {
    if (!Number.isInteger(e.perms) || e.perms < 1 || e.perms > 31) {
      throw new TypeError(`Invalid ACL perms ${e.perms}: expected bits of ZooKeeperPerms, 1..31`);
    }
    if (typeof e.scheme !== "string" || e.scheme === "" || typeof e.id !== "string") {
      throw new TypeError(`Invalid ACL entry ${JSON.stringify(e)}: expected scheme and id strings`);
    }
  }
}
