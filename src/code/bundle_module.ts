/**
 * Bundling a module and everything it imports into one ES module for a remote
 * Deno, resolving the way `deno run` would (Deno's own module graph).
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BundleError } from "../errors.ts";
import { buildBundle } from "./_build_bundle.ts";
import { withEsbuild } from "./_esbuild_service.ts";
import { BundleCache, type CacheRecord } from "./_bundle_cache.ts";
import { fusionCacheDir } from "./_cache_dir.ts";
import { loadDenoGraph } from "./_deno_graph.ts";
import { takeStamp } from "./_file_stamps.ts";
import { NpmPackages } from "./_npm_packages.ts";
import { findProjectFiles } from "./_project_files.ts";
import { sha256Hex } from "./sha256_hex.ts";

/** One module and its dependency graph, bundled. */
export interface Bundle {
  /** One ES module for Deno (format esm); `node:` built-ins stay external imports. Treat as read-only. */
  code: Uint8Array;
  /** Hex sha256 of `code`. */
  hash: string;
  /** Source modules inside: `file:`, `https:` and `npm:name@version/path` URLs. */
  modules: string[];
  /** The entry module's URL (after redirects). */
  entry: string;
}

/** Options for {@linkcode bundleModule}. */
export interface BundleOptions {
  /** deno.json / import map to resolve with; default: what Deno finds from the module's directory (and cwd). */
  config?: string;
  /** Skip the local cache (the fresh bundle replaces the cached one). */
  reload?: boolean;
  /** Fusion's local cache folder; default `$XDG_CACHE_HOME/fusion`, else `~/.cache/fusion`. */
  cacheDir?: string;
  /** Also keep bundles on disk under `<cacheDir>/bundles/`, for later processes (default true). */
  diskCache?: boolean;
  /** Append an inline source map so remote stack traces name the original files (default true). */
  sourceMap?: boolean;
}

const cache = new BundleCache();
const inflight = new Map<string, Promise<Bundle>>();

/** The URL of a module given as a URL, a URL string, or a path relative to `Deno.cwd()`. */
export function moduleUrl(module: string | URL): URL {
  if (module instanceof URL) return module;
  if (/^[a-z][a-z0-9+.-]+:/i.test(module)) {
    try {
      return new URL(module);
    } catch (e) {
      throw new BundleError(`not a module URL: ${module}`, { cause: e });
    }
  }
  return pathToFileURL(isAbsolute(module) ? module : resolve(Deno.cwd(), module));
}

/**
 * Bundles `module` and everything it imports with esbuild, resolving through
 * Deno's module graph (`deno info`): relative files, import maps and deno.json
 * "imports", `jsr:`/`https:` modules from the local cache, and `npm:` packages
 * with or without a node_modules folder. `node:` built-ins stay external.
 *
 * Bundles are cached by their inputs: a later call for an unchanged module
 * only stats its files (no `deno info`, no esbuild) and returns the same hash.
 *
 * @throws {BundleError} when the module or one of its imports cannot be bundled;
 * the message names the import and its importer.
 */
export function bundleModule(module: string | URL, options: BundleOptions = {}): Promise<Bundle> {
  let url: URL;
  try {
    url = moduleUrl(module);
  } catch (e) {
    return Promise.reject(e);
  }
  const config = options.config === undefined
    ? null
    : isAbsolute(options.config)
    ? options.config
    : resolve(Deno.cwd(), options.config);
  const sourceMap = options.sourceMap ?? true;
  const key = JSON.stringify([url.href, config, Deno.cwd(), sourceMap]);
  const dir = options.diskCache === false ? undefined : options.cacheDir ?? fusionCacheDir();
  if (!options.reload) {
    const hit = cache.get(key, dir);
    if (hit) return Promise.resolve(toBundle(hit.record, hit.code));
  }
  const pending = inflight.get(key);
  if (pending && !options.reload) return pending;
  const p = build(url, key, {
    config,
    sourceMap,
    dir,
    cacheDir: options.cacheDir ?? fusionCacheDir(),
  }).finally(() => {
    if (inflight.get(key) === p) inflight.delete(key);
  });
  inflight.set(key, p);
  return p;
}

function toBundle(record: CacheRecord, code: Uint8Array): Bundle {
  return { code, hash: record.hash, modules: [...record.modules], entry: record.entry };
}

async function build(
  url: URL,
  key: string,
  o: { config: string | null; sourceMap: boolean; dir: string | undefined; cacheDir: string },
): Promise<Bundle> {
  const project = findProjectFiles(url, o.config ?? undefined);
  const configStamps = project.watch.map((p) => takeStamp(p));
  const built = await withEsbuild(async (api) => {
    // Start esbuild's service while deno info runs: each takes ~100 ms to get going.
    const warmUp = api.transform("").catch(() => {});
    try {
      const graph = await loadDenoGraph(url.href, project);
      const entry = graph.classify(graph.entry);
      if (entry.kind === "error") {
        throw new BundleError(`cannot bundle ${url.href}: ${entry.message}`);
      }
      const lockStamps = project.lockfiles.map((p) => takeStamp(p));
      const npm = await NpmPackages.prepare(graph.npmPackages, o.cacheDir);
      await warmUp;
      const out = await buildBundle(graph, npm, {
        api,
        compilerOptions: project.compilerOptions,
        sourceMap: o.sourceMap,
      });
      return { ...out, graph, npm, lockStamps };
    } finally {
      await warmUp;
    }
  });
  const { graph, npm, lockStamps } = built;
  const pkgStamps = [...npm.projectRoots].map((r) => takeStamp(`${r}/package.json`));
  const record: CacheRecord = {
    v: 1,
    key,
    entry: graph.entry,
    hash: sha256Hex(built.code),
    modules: built.modules,
    stamps: [...configStamps, ...lockStamps, ...built.stamps, ...pkgStamps],
  };
  await cache.set(record, built.code, o.dir);
  return toBundle(record, built.code);
}
