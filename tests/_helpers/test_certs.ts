/**
 * Throw-away TLS material for tests, made with the `openssl` command line: a private CA, a
 * server certificate it signed for `localhost`, `127.0.0.1` and `rpc.mprpc.test`, and a second,
 * unrelated CA.
 *
 * @module
 */

/** Paths (and PEM text) of the generated files. */
export interface TestCerts extends AsyncDisposable {
  dir: string;
  /** The CA that signed the server certificate. */
  caFile: string;
  caPem: string;
  /** A CA that signed nothing we serve. */
  otherCaFile: string;
  /**
   * Server certificate (for `localhost`, `127.0.0.1` and `rpc.mprpc.test`, a name no DNS
   * resolves) and its key.
   */
  certFile: string;
  keyFile: string;
  /** Deletes the temp dir. */
  remove(): Promise<void>;
}

/**
 * True when an `openssl` binary can be run.
 *
 * @example
 * ```ts ignore
 * Deno.test({ name: "...", ignore: !(await opensslAvailable()), fn() {} });
 * ```
 */
export async function opensslAvailable(): Promise<boolean> {
  try {
    return (await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/**
 * Generates a CA and a server certificate in a temp dir (EC P-256, valid one day).
 *
 * @example
 * ```ts ignore
 * await using certs = await makeTestCerts();
 * new RpcProvider({ tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
 * new RpcChannel({ address, tls: { caFiles: [certs.caFile] } });
 * ```
 */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "mprpc_certs_" });
  try {
    for (const name of ["ca", "other_ca"]) {
      await openssl(dir, [
        "req",
        "-x509",
        ...EC,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-subj",
        `/CN=mprpc test ${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]);
    }
    await openssl(dir, [
      "req",
      ...EC,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ]);
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      "subjectAltName=DNS:localhost,DNS:rpc.mprpc.test,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.pem",
      "-days",
      "1",
      "-extfile",
      "server.ext",
    ]);
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  let removing: Promise<void> | undefined;
  const remove = () => removing ??= Deno.remove(dir, { recursive: true }).catch(() => {});
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    caPem: await Deno.readTextFile(`${dir}/ca.pem`),
    otherCaFile: `${dir}/other_ca.pem`,
    certFile: `${dir}/server.pem`,
    keyFile: `${dir}/server.key`,
    remove,
    [Symbol.asyncDispose]: remove,
  };
}
