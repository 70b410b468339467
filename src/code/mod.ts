/**
 * Code pushing, local side: bundling a module and its dependency graph with
 * esbuild, content hashes, and the local bundle cache.
 * @module
 */
export { type Bundle, bundleModule, type BundleOptions, moduleUrl } from "./bundle_module.ts";
export { sha256Hex } from "./sha256_hex.ts";
