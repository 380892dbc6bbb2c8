/**
 * Imports a module named by the user at run time (a provider's `workerModule`).
 *
 * @module
 */

/**
 * Imports the module at the absolute `url` (`file:`, `https:` or `http:`). The specifier is
 * spelled as a template with the scheme as its literal prefix, which `deno publish` and
 * `deno compile` accept as an intentional dynamic import (a bare `import(variable)` is reported
 * as unanalyzable); `deno compile` still needs the module named with `--include`.
 *
 * @throws {TypeError} for any other scheme.
 */
export function importModule(url: URL): Promise<Record<string, unknown>> {
  const rest = url.href.slice(url.protocol.length + 2); // after "scheme://"
  switch (url.protocol) {
    case "file:":
      return import(`file://${rest}`);
    case "https:":
      return import(`https://${rest}`);
    case "http:":
      return import(`http://${rest}`);
  }
  throw new TypeError(`Cannot import ${url.href}: only file:, https: and http: modules`);
}
