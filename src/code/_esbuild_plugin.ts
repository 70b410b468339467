import type * as esbuild from "esbuild";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { DenoGraph, GraphModule, Resolved } from "./_deno_graph.ts";
import { type FileStamp, stampThenRead } from "./_file_stamps.ts";
import { nodeBuiltin } from "./_node_builtins.ts";
import type { NpmPackages } from "./_npm_packages.ts";

/** Namespace of modules from Deno's graph; their esbuild path is their URL. */
export const DENO_NAMESPACE = "deno";

/** What the plugin reads and records during one build. */
export interface PluginState {
  graph: DenoGraph;
  npm: NpmPackages;
  /** Stamps of every graph module loaded, taken before reading it. */
  stamps: FileStamp[];
  /** Imports that could not be resolved: `"spec" imported by importer: why`. */
  failures: string[];
}

const PASS = Symbol("resolve natively");

const LOADERS: Record<string, esbuild.Loader> = {
  TypeScript: "ts",
  Mts: "ts",
  Cts: "ts",
  Dts: "ts",
  Dmts: "ts",
  Dcts: "ts",
  TSX: "tsx",
  JavaScript: "js",
  Mjs: "js",
  Cjs: "js",
  JSX: "jsx",
  Json: "json",
  Jsonc: "json",
};

function loaderFor(m: GraphModule): esbuild.Loader {
  const l = LOADERS[m.mediaType];
  if (l) return l;
  const ext = /\.([a-z]+)$/i.exec(new URL(m.url).pathname)?.[1]?.toLowerCase();
  return ({ ts: "ts", mts: "ts", cts: "ts", tsx: "tsx", jsx: "jsx", json: "json" } as const)[
    ext as "ts"
  ] ?? "js";
}

function isBare(spec: string): boolean {
  return !/^(\.{0,2}\/|#|[a-z][a-z0-9+.-]*:)/i.test(spec);
}

/**
 * Resolves and loads through Deno's module graph: graph modules (file:, https:,
 * jsr: via its https URL) are loaded from their local copies; `npm:` imports go to
 * the package folder Deno chose; `node:` built-ins (also bare "fs" from npm code)
 * stay external.
 */
export function denoGraphPlugin(state: PluginState): esbuild.Plugin {
  const { graph, npm } = state;
  return {
    name: "fusion-deno-graph",
    setup(build) {
      const fail = (args: esbuild.OnResolveArgs, message: string): esbuild.OnResolveResult => {
        const who = args.importer ? ` imported by ${args.importer}` : "";
        state.failures.push(`"${args.path}"${who}: ${message}`);
        return { errors: [{ text: message }] };
      };

      const native = async (
        args: esbuild.OnResolveArgs,
        path: string,
        resolveDir: string,
      ): Promise<esbuild.OnResolveResult | undefined> => {
        const r = await build.resolve(path, { kind: args.kind, resolveDir, pluginData: PASS });
        if (r.errors.length > 0) {
          // From npm code, let esbuild fail on its own terms (a require() in a try block is only a warning).
          if (args.namespace !== DENO_NAMESPACE && args.kind !== "entry-point") return undefined;
          return fail(args, r.errors[0]!.text);
        }
        return {
          path: r.path,
          namespace: r.namespace,
          external: r.external,
          sideEffects: r.sideEffects,
          suffix: r.suffix,
        };
      };

      const fromResolved = (
        args: esbuild.OnResolveArgs,
        r: Resolved,
      ): Promise<esbuild.OnResolveResult | undefined> | esbuild.OnResolveResult => {
        switch (r.kind) {
          case "module":
            return { path: r.module.url, namespace: DENO_NAMESPACE };
          case "node":
            return { path: r.specifier, external: true };
          case "file":
            return { path: r.path, namespace: "file" };
          case "npm": {
            const at = npm.entryDir(r.id);
            if (!at) return fail(args, `npm package ${r.id} is not installed or cached`);
            return native(args, at.name + r.subpath, at.dir);
          }
          case "error":
            return fail(args, r.message);
        }
      };

      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.pluginData === PASS) return undefined;
        if (args.kind === "entry-point") return fromResolved(args, graph.classify(graph.entry));
        if (args.namespace === DENO_NAMESPACE) {
          const r = graph.resolve(args.importer, args.path);
          if (r) return fromResolved(args, r);
          // An import Deno's graph does not list (e.g. a require() in a .cjs file).
          const builtin = nodeBuiltin(args.path);
          if (builtin) return { path: builtin, external: true };
          if (/^\.{0,2}\//.test(args.path) && args.importer.startsWith("file:")) {
            return { path: fileURLToPath(new URL(args.path, args.importer)), namespace: "file" };
          }
          return fail(args, "not in Deno's module graph");
        }
        const builtin = nodeBuiltin(args.path);
        if (builtin) return { path: builtin, external: true };
        if (isBare(args.path)) {
          const linkDir = npm.linkDirOf(args.importer);
          if (linkDir) return native(args, args.path, linkDir);
        }
        return undefined;
      });

      build.onLoad({ filter: /.*/, namespace: DENO_NAMESPACE }, (args) => {
        const r = graph.classify(args.path);
        if (r.kind !== "module") return { errors: [{ text: `cannot load ${args.path}` }] };
        const { stamp, bytes } = stampThenRead(r.module.local);
        state.stamps.push(stamp);
        return {
          contents: bytes,
          loader: loaderFor(r.module),
          ...(r.module.url.startsWith("file:") ? { resolveDir: dirname(r.module.local) } : {}),
        };
      });
    },
  };
}
