/**
 * Throw-away test hosts: Linux network namespaces joined to the root namespace by veth pairs on
 * private /30 subnets (10.213.x.0/30) that the test creates and deletes itself. Needs root and
 * the `ip` command; {@linkcode netnsAvailable} says whether they work here.
 *
 * @module
 */

/** One namespace: the test talks to `address` through the root-side interface `rootIf`. */
export interface TestHost {
  /** Namespace name (for `ip netns exec`). */
  netns: string;
  /** Root-side veth interface, e.g. to cut the link with `ip link set <rootIf> down`. */
  rootIf: string;
  /** Namespace-side veth interface. */
  nsIf: string;
  /** The host's address inside the namespace (`10.213.x.2`). */
  address: string;
  /** The root namespace's address on the link (`10.213.x.1`). */
  gateway: string;
}

/**
 * Runs `ip` with `args`; throws with its stderr when it fails.
 *
 * @example
 * ```ts ignore
 * await ip("link", "set", host.rootIf, "down"); // cut the link
 * ```
 */
export async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * True on Linux when this process may create network namespaces (root, `ip` installed).
 *
 * @example
 * ```ts ignore
 * Deno.test({ name: "...", ignore: !(await netnsAvailable()), fn() {} });
 * ```
 */
export async function netnsAvailable(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  const probe = `mprpc_probe_${Deno.pid}`;
  try {
    await ip("netns", "add", probe);
  } catch {
    return false;
  }
  try {
    await ip("netns", "del", probe);
  } catch { /* best effort */ }
  return true;
}

/**
 * Creates namespace hosts on subnets `10.213.<subnet>.0/30`, one per entry of `subnets`.
 * Names include the process id, so parallel runs do not collide on names; call
 * {@linkcode removeTestHosts} in a `finally`.
 *
 * @example
 * ```ts ignore
 * const hosts = await createTestHosts([11, 12]);
 * try { ... } finally { await removeTestHosts(hosts); }
 * ```
 */
export async function createTestHosts(subnets: number[]): Promise<TestHost[]> {
  const hosts: TestHost[] = [];
  try {
    for (const [i, x] of subnets.entries()) {
      const tag = `${Deno.pid % 100000}${String.fromCharCode(97 + i)}`;
      const h: TestHost = {
        netns: `mprpc_${tag}`,
        rootIf: `mr${tag}0`,
        nsIf: `mr${tag}1`,
        address: `10.213.${x}.2`,
        gateway: `10.213.${x}.1`,
      };
      await removeStale(h.gateway);
      await ip("netns", "add", h.netns);
      hosts.push(h);
      await ip("link", "add", h.rootIf, "type", "veth", "peer", "name", h.nsIf);
      await ip("link", "set", h.nsIf, "netns", h.netns);
      await ip("addr", "add", `${h.gateway}/30`, "dev", h.rootIf);
      await ip("link", "set", h.rootIf, "up");
      await ip("netns", "exec", h.netns, "ip", "addr", "add", `${h.address}/30`, "dev", h.nsIf);
      await ip("netns", "exec", h.netns, "ip", "link", "set", h.nsIf, "up");
      await ip("netns", "exec", h.netns, "ip", "link", "set", "lo", "up");
    }
  } catch (e) {
    await removeTestHosts(hosts);
    throw e;
  }
  return hosts;
}

/**
 * Deletes the hosts' veth pairs and namespaces (processes in them must be stopped first).
 *
 * @example
 * ```ts ignore
 * await removeTestHosts(hosts);
 * ```
 */
export async function removeTestHosts(hosts: TestHost[]): Promise<void> {
  for (const h of hosts) {
    await ip("link", "del", h.rootIf).catch(() => {}); // gone with its namespace already
    await ip("netns", "del", h.netns).catch(() => {});
  }
}

/** Removes a left-over interface of ours (name `mr...`) holding `gateway` from a crashed run. */
async function removeStale(gateway: string): Promise<void> {
  const out = await new Deno.Command("ip", { args: ["-o", "-4", "addr", "show"], stdout: "piped" })
    .output();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\d+:\s+(mr\d+[a-z]0)\s+inet\s+([\d.]+)\//.exec(line);
    if (m && m[2] === gateway) await ip("link", "del", m[1]!).catch(() => {});
  }
}
