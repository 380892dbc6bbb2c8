// deno-lint-ignore-file no-import-prefix
/**
 * The ZooKeeper client pin, apart from src/deps.ts: only the ZooKeeper registry loads it
 * (dynamically, when it first connects), so a program that uses the static registry never
 * resolves `npm:node-zookeeper-client` (which a folder with a package.json would otherwise
 * have to install).
 *
 * @module
 */
export { default as zookeeper } from "npm:node-zookeeper-client@1.1.3";
