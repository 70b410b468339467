import type * as esbuild from "esbuild";
import { Buffer } from "node:buffer";
import { BundleError } from "../errors.ts";
import type { DenoGraph } from "./_deno_graph.ts";
import { DENO_NAMESPACE, denoGraphPlugin, type PluginState } from "./_esbuild_plugin.ts";
import type { FileStamp } from "./_file_stamps.ts";
import type { NpmPackages } from "./_npm_packages.ts";
import type { CompilerOptions } from "./_project_files.ts";

/** The output of one esbuild run. */
export interface BuiltBundle {
  code: Uint8Array;
  modules: string[];
  stamps: FileStamp[];
}

/** Options for {@linkcode buildBundle}. */
export interface BuildBundleOptions {
  /** esbuild, held by the caller through `withEsbuild`. */
  api: typeof esbuild;
  compilerOptions: CompilerOptions;
  sourceMap: boolean;
}

const OUTFILE = "/fusion-bundle.js";

/**
 * CommonJS code in the bundle calls esbuild's `__require` shim, which uses a
 * global `require` when there is one: give it Node's, so `require("node:fs")`
 * (and bare "fs", rewritten to it) works on the server. `__dirname` and
 * `__filename` are defined to these names, pointing at the bundle file.
 */
const CJS_BANNER = [
  `import { createRequire as __fusion_createRequire } from "node:module";`,
  `var __fusion_url = import.meta.url.startsWith("file:") ? import.meta.url : "file:///fusion-bundle.js";`,
  `var require = __fusion_createRequire(__fusion_url);`,
  `var __fusion_filename = decodeURIComponent(new URL(__fusion_url).pathname);`,
  `var __fusion_dirname = __fusion_filename.slice(0, __fusion_filename.lastIndexOf("/")) || "/";`,
];

/** esbuild's path for an input (metafile key or source map source) → module URL. */
function inputUrl(path: string, npm: NpmPackages): string {
  if (path.startsWith(`${DENO_NAMESPACE}:`)) return path.slice(DENO_NAMESPACE.length + 1);
  return npm.moduleUrl(path.startsWith("/") ? path : `/${path}`);
}

function describeFailure(e: unknown, state: PluginState, npm: NpmPackages): string {
  if (state.failures.length > 0) return [...new Set(state.failures)].join("; ");
  const errors = (e as { errors?: esbuild.Message[] }).errors;
  if (!errors?.length) return (e as Error).message ?? String(e);
  return errors.slice(0, 5).map((m) => {
    const loc = m.location;
    const where = loc ? ` in ${inputUrl(loc.file, npm)}:${loc.line}:${loc.column}` : "";
    return `${m.text.replaceAll(`"${DENO_NAMESPACE}:`, `"`)}${where}`;
  }).join("; ");
}

/** Bundles the graph's entry into one ES module. */
export async function buildBundle(
  graph: DenoGraph,
  npm: NpmPackages,
  options: BuildBundleOptions,
): Promise<BuiltBundle> {
  const state: PluginState = { graph, npm, stamps: [], failures: [] };
  const co = options.compilerOptions;
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await options.api.build({
      entryPoints: [graph.entry],
      bundle: true,
      write: false,
      metafile: true,
      outfile: OUTFILE,
      absWorkingDir: "/",
      format: "esm",
      platform: "neutral",
      target: "es2022",
      mainFields: ["module", "main"],
      conditions: ["deno", "node"],
      external: ["node:*"],
      keepNames: true,
      charset: "utf8",
      sourcemap: options.sourceMap ? "external" : false,
      sourcesContent: false,
      logLevel: "silent",
      define: { __dirname: "__fusion_dirname", __filename: "__fusion_filename" },
      tsconfigRaw: { compilerOptions: co } as esbuild.TsconfigRaw,
      plugins: [denoGraphPlugin(state)],
    });
  } catch (e) {
    throw new BundleError(`cannot bundle ${graph.entry}: ${describeFailure(e, state, npm)}`, {
      cause: e,
    });
  }
  const js = result.outputFiles.find((f) => f.path.endsWith(".js"));
  const map = result.outputFiles.find((f) => f.path.endsWith(".js.map"));
  if (!js) throw new BundleError(`esbuild produced no output for ${graph.entry}`);
  let code = js.text.replace(/\n\/\/# sourceMappingURL=\S+\n?$/, "\n");
  const banner = /\bvar __require\b|\b__fusion_(dirname|filename)\b/.test(code) ? CJS_BANNER : [];
  if (banner.length > 0) code = banner.join("\n") + "\n" + code;
  if (map) {
    const sm = JSON.parse(map.text) as { sources: string[]; mappings: string; sourceRoot?: string };
    sm.sources = sm.sources.map((s) => inputUrl(s, npm));
    sm.sourceRoot = "";
    sm.mappings = ";".repeat(banner.length) + sm.mappings;
    const b64 = Buffer.from(JSON.stringify(sm)).toString("base64");
    code += `//# sourceMappingURL=data:application/json;base64,${b64}\n`;
  }
  const modules = [...new Set(Object.keys(result.metafile.inputs).map((p) => inputUrl(p, npm)))];
  return { code: new TextEncoder().encode(code), modules, stamps: state.stamps };
}
