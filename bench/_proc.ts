/**
 * Reading a process's CPU time and memory from Linux's `/proc`, for the benchmark suite.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux). */
const CLK_TCK = 100;

/**
 * User + system CPU seconds used so far by every thread of process `pid` ("self" for this one).
 *
 * @example
 * ```ts ignore
 * const before = cpuSeconds(pid);
 * await work();
 * console.log(`${cpuSeconds(pid) - before} s of CPU`);
 * ```
 */
export function cpuSeconds(pid: number | "self"): number {
  const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields 14 (utime) and 15 (stime), counted from 1, are at 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident memory of a process, bytes: now (`VmRSS`) and its lifetime peak (`VmHWM`). */
export interface Rss {
  rss: number;
  hwm: number;
}

/**
 * Reads `VmRSS` and `VmHWM` of process `pid` ("self" for this one).
 *
 * @example
 * ```ts ignore
 * console.log(rssOf("self").rss / 2 ** 20, "MiB");
 * ```
 */
export function rssOf(pid: number | "self"): Rss {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) => {
    const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/**
 * CPU and RSS of this process and, optionally, of a peer process (the server of a scenario),
 * sampled together so both cover the same window.
 *
 * @example
 * ```ts ignore
 * const before = sample(serverPid);
 * // ... load ...
 * const after = sample(serverPid);
 * console.log(after.selfCpu - before.selfCpu, after.peerCpu - before.peerCpu);
 * ```
 */
export interface Sample {
  selfCpu: number;
  peerCpu: number;
  selfRss: number;
  peerRss: number;
}

/**
 * Samples CPU seconds and RSS of this process and of `peerPid` (zeros when there is none).
 *
 * @example
 * ```ts ignore
 * const { selfCpu, peerRss } = sample(serverPid);
 * ```
 */
export function sample(peerPid: number | undefined): Sample {
  const self = rssOf("self");
  const peer = peerPid ? rssOf(peerPid) : { rss: 0, hwm: 0 };
  return {
    selfCpu: cpuSeconds("self"),
    peerCpu: peerPid ? cpuSeconds(peerPid) : 0,
    selfRss: self.rss,
    peerRss: peer.rss,
  };
}
