/**
 * Finds how to start a ZooKeeper server on this machine: Docker's `zookeeper` image when a Docker
 * *engine* answers (`docker info` succeeds); `$ZOOKEEPER_HOME` (an Apache tarball); Debian's
 * package (`/usr/share/java/zookeeper.jar`); a `zkServer.sh` found on `PATH`. Set
 * `MPRPC_ZK_BACKEND=local` or `=docker` to force one. Found once per process.
 *
 * @module
 */

const DEBIAN_JAR = "/usr/share/java/zookeeper.jar";
export const INSTALL_HINT =
  "No ZooKeeper found. Install one with `sudo apt-get install -y zookeeper` " +
  "(or run scripts/install_zookeeper.sh), or set ZOOKEEPER_HOME to an Apache ZooKeeper " +
  "release, or put zkServer.sh on PATH, or start a Docker engine (image `zookeeper`).";

/** How a server process is started, found once per process. */
export type Backend =
  | { kind: "docker" }
  | { kind: "java"; classpath: string }
  | { kind: "script"; script: string };

let backendPromise: Promise<Backend | undefined> | undefined;
let localBackendPromise: Promise<Backend | undefined> | undefined;

/** JVM flags of every launched server: a small heap, fast start. */
export function jvmFlags(): string[] {
  return [
    "-Xms32m",
    "-Xmx256m",
    "-XX:TieredStopAtLevel=1",
    "-XX:+UseSerialGC",
    "-Djava.net.preferIPv4Stack=true",
    "-Dzookeeper.admin.enableServer=false",
    "-Dzookeeper.jmx.log4j.disable=true",
    "-Dzookeeper.snapshot.trust.empty=true",
    // Ensembles: quick re-elections on a loaded machine (a dead member is given up fast, and
    // election notifications back off to at most 1 s instead of 60 s).
    "-Dzookeeper.cnxTimeout=1000",
    "-Dzookeeper.fastleader.maxNotificationInterval=1000",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS",
  ];
}

/** Runs a command to completion; true when it exits 0. Output is discarded. */
export async function run(cmd: string, args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" })
      .output();
    return success;
  } catch {
    return false;
  }
}

/**
 * How to start a server here (Docker first, unless `MPRPC_ZK_BACKEND=local`); undefined when
 * there is none.
 */
export function findBackend(): Promise<Backend | undefined> {
  return backendPromise ??= (async (): Promise<Backend | undefined> => {
    const forced = Deno.env.get("MPRPC_ZK_BACKEND");
    if (forced !== "local" && await run("docker", ["info"])) {
      if (
        await run("docker", ["image", "inspect", "zookeeper"]) ||
        await run("docker", ["pull", "zookeeper"])
      ) return { kind: "docker" };
    }
    if (forced === "docker") return undefined;
    return await findLocalBackend();
  })();
}

/**
 * A ZooKeeper installed on this machine (never Docker): `$ZOOKEEPER_HOME`, Debian's package, or
 * `zkServer.sh` on `PATH`; undefined when there is none. Ensembles need one.
 */
export function findLocalBackend(): Promise<Backend | undefined> {
  return localBackendPromise ??= (async (): Promise<Backend | undefined> => {
    const hasJava = await run("java", ["-version"]);
    const home = Deno.env.get("ZOOKEEPER_HOME");
    if (hasJava && home && await exists(home)) {
      return { kind: "java", classpath: [`${home}/lib/*`, `${home}/*`, `${home}/conf`].join(":") };
    }
    if (hasJava && await exists(DEBIAN_JAR)) {
      // The jar's manifest Class-Path names its dependencies (jute, netty, slf4j-api, ...);
      // slf4j-simple is added so the server logs (to stderr, i.e. our log file).
      const cp = [DEBIAN_JAR];
      for (const extra of ["/usr/share/java/slf4j-simple.jar", "/etc/zookeeper/conf"]) {
        if (await exists(extra)) cp.push(extra);
      }
      return { kind: "java", classpath: cp.join(":") };
    }
    for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
      if (dir && await exists(`${dir}/zkServer.sh`)) {
        return { kind: "script", script: `${dir}/zkServer.sh` };
      }
    }
    return undefined;
  })();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
