import { fileURLToPath } from "node:url";
import { BundleError } from "../errors.ts";
import type { ProjectFiles } from "./_project_files.ts";

interface InfoDep {
  specifier: string;
  code?: { specifier?: string; error?: string };
  type?: { specifier?: string; error?: string };
}

interface InfoModule {
  specifier: string;
  kind?: string;
  local?: string;
  mediaType?: string;
  error?: string;
  npmPackage?: string;
  dependencies?: InfoDep[];
}

interface InfoNpmPackage {
  name: string;
  version: string;
  dependencies?: string[];
  registryUrl?: string;
  localPath?: string;
}

interface InfoJson {
  roots?: string[];
  modules?: InfoModule[];
  redirects?: Record<string, string>;
  npmPackages?: Record<string, InfoNpmPackage>;
}

/** An npm package as Deno resolved it (id is `name@version`, maybe with a peer suffix). */
export interface NpmPackage {
  id: string;
  name: string;
  version: string;
  dependencies: string[];
  registryUrl: string;
  localPath?: string;
}

/** A Deno-graph module whose source esbuild loads from `local`. */
export interface GraphModule {
  url: string;
  local: string;
  mediaType: string;
}

/** What an import resolves to in Deno's module graph. */
export type Resolved =
  | { kind: "module"; module: GraphModule }
  | { kind: "node"; specifier: string }
  | { kind: "npm"; id: string; name: string; subpath: string }
  | { kind: "file"; path: string }
  | { kind: "error"; message: string };

/** Splits `npm:/name@1.2.3/sub/path` into name and subpath ("" or "/sub/path"). */
export function parseNpmSpecifier(spec: string): { name: string; subpath: string } | undefined {
  const s = spec.replace(/^npm:\/?/, "");
  const at = s.startsWith("@") ? s.indexOf("@", 1) : s.indexOf("@");
  if (at <= 0) return undefined;
  const name = s.slice(0, at);
  const slash = s.indexOf("/", at);
  return { name, subpath: slash < 0 ? "" : s.slice(slash) };
}

/** Deno's module graph for one entry, as `deno info --json` reports it. */
export class DenoGraph {
  readonly entry: string;
  readonly npmPackages: Map<string, NpmPackage>;
  readonly #modules = new Map<string, InfoModule>();
  readonly #deps = new Map<string, Map<string, InfoDep>>();
  readonly #redirects: Record<string, string>;

  constructor(info: InfoJson) {
    this.#redirects = info.redirects ?? {};
    for (const m of info.modules ?? []) {
      this.#modules.set(m.specifier, m);
      if (m.dependencies) {
        this.#deps.set(m.specifier, new Map(m.dependencies.map((d) => [d.specifier, d])));
      }
    }
    this.npmPackages = new Map();
    for (const [id, p] of Object.entries(info.npmPackages ?? {})) {
      this.npmPackages.set(id, {
        id,
        name: p.name,
        version: p.version,
        dependencies: p.dependencies ?? [],
        registryUrl: p.registryUrl ?? "https://registry.npmjs.org/",
        ...(p.localPath ? { localPath: p.localPath } : {}),
      });
    }
    const root = info.roots?.[0];
    if (!root) throw new BundleError("deno info reported no root module");
    this.entry = this.redirect(root);
  }

  /** Follows redirects (remote redirects, jsr: and npm: resolution). */
  redirect(spec: string): string {
    for (let i = 0; i < 20; i++) {
      const next = this.#redirects[spec];
      if (next === undefined || next === spec) return spec;
      spec = next;
    }
    return spec;
  }

  /** What a resolved specifier is. */
  classify(specifier: string): Resolved {
    const spec = this.redirect(specifier);
    if (spec.startsWith("node:")) return { kind: "node", specifier: spec };
    const m = this.#modules.get(spec);
    if (!m) {
      if (spec.startsWith("npm:")) return this.#npm(spec, undefined);
      return { kind: "error", message: `${spec} is not in Deno's module graph` };
    }
    if (m.error) return { kind: "error", message: m.error };
    if (m.kind === "node") return { kind: "node", specifier: spec };
    if (m.kind === "npm") return this.#npm(spec, m.npmPackage);
    if (m.kind === "external") {
      if (spec.startsWith("file:")) return { kind: "file", path: m.local ?? fileURLToPath(spec) };
      return { kind: "error", message: `${spec} is external to Deno's module graph` };
    }
    if (m.mediaType === "Wasm") {
      return { kind: "error", message: `${spec}: WebAssembly modules cannot be bundled` };
    }
    if (!m.local || !m.mediaType) {
      return { kind: "error", message: `${spec} has no local source (not cached?)` };
    }
    return { kind: "module", module: { url: spec, local: m.local, mediaType: m.mediaType } };
  }

  #npm(spec: string, id: string | undefined): Resolved {
    const parsed = parseNpmSpecifier(spec);
    if (!parsed) return { kind: "error", message: `malformed npm specifier ${spec}` };
    if (id === undefined) {
      const s = spec.replace(/^npm:\/?/, "");
      id = s.slice(0, s.length - parsed.subpath.length);
    }
    return { kind: "npm", id, ...parsed };
  }

  /**
   * Resolves `raw` as written in `importer`; undefined when Deno's graph has no
   * such dependency (an import Deno did not see).
   */
  resolve(importer: string, raw: string): Resolved | undefined {
    const dep = this.#deps.get(importer)?.get(raw);
    if (!dep) return undefined;
    if (dep.code?.error) return { kind: "error", message: dep.code.error };
    if (dep.code?.specifier) return this.classify(dep.code.specifier);
    return { kind: "error", message: `"${raw}" is only a type import` };
  }
}

/** Runs `deno info --json` for `entry` in the project and parses the graph. */
export async function loadDenoGraph(entry: string, project: ProjectFiles): Promise<DenoGraph> {
  const args = ["info", "--json", "--allow-import"];
  if (project.config !== undefined) args.push("--config", project.config);
  args.push(entry);
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(denoExecutable(), {
      args,
      cwd: project.cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new BundleError(`cannot run deno info: ${(e as Error).message}`, { cause: e });
  }
  const stderr = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) {
    throw new BundleError(`deno info ${entry} failed: ${lastLines(stderr)}`);
  }
  let info: InfoJson;
  try {
    info = JSON.parse(new TextDecoder().decode(out.stdout));
  } catch (e) {
    throw new BundleError(`deno info ${entry} printed no JSON: ${lastLines(stderr)}`, { cause: e });
  }
  return new DenoGraph(info);
}

/** This Deno, unless this process is a `deno compile`d program: then `deno` on PATH. */
function denoExecutable(): string {
  const exe = Deno.execPath();
  return /(^|[\\/])deno(\.exe)?$/.test(exe) ? exe : "deno";
}

function lastLines(text: string): string {
  return text.split("\n").filter((l) => l.trim() && !/^\s*\d+: /.test(l) && !/backtrace/i.test(l))
    .slice(-5).join("\n");
}
