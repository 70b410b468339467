import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { NpmPackage } from "./_deno_graph.ts";
import { sha256Hex } from "./sha256_hex.ts";

interface Located {
  pkg: NpmPackage;
  /** Real path of the package folder. */
  root: string;
  /** Folder from which esbuild resolves `name/subpath` to this package. */
  entryDir: string;
  /** For packages outside a node_modules tree: where its own dependencies resolve from. */
  linkDir?: string;
}

function realPath(path: string): string | undefined {
  try {
    return Deno.realPathSync(path);
  } catch {
    return undefined;
  }
}

function denoDir(): string {
  const env = Deno.env.get("DENO_DIR");
  if (env) return env;
  const home = Deno.env.get("HOME") ?? "/tmp";
  if (Deno.build.os === "darwin") return `${home}/Library/Caches/deno`;
  return `${Deno.env.get("XDG_CACHE_HOME") ?? `${home}/.cache`}/deno`;
}

/** Deno's global npm cache folder for a package (used when node_modules lacks it). */
function globalCachePath(pkg: NpmPackage): string {
  const host = new URL(pkg.registryUrl).host.replace(":", "_");
  return join(denoDir(), "npm", host, pkg.name, pkg.version);
}

function folderName(id: string): string {
  return id.replaceAll("/", "+");
}

/**
 * npm packages of one bundle and how esbuild reaches them. Packages in a
 * node_modules tree (the project's, laid out by Deno or npm) resolve natively.
 * Packages only in Deno's global cache have no node_modules around them, so
 * each gets a small link folder (`<cache>/npm/<graph hash>/<id>/node_modules/`)
 * holding symlinks to itself and to exactly the dependency versions Deno chose.
 */
export class NpmPackages {
  readonly #byId = new Map<string, Located>();
  /** Located packages with a link folder, longest root first. */
  readonly #linked: Located[] = [];
  readonly #versionOf = new Map<string, string | undefined>();
  /** Package folders inside a project node_modules that the bundle used. */
  readonly projectRoots = new Set<string>();

  private constructor() {}

  /** Locates every package and creates missing link folders under `cacheDir`. */
  static async prepare(packages: Map<string, NpmPackage>, cacheDir: string): Promise<NpmPackages> {
    const self = new NpmPackages();
    const unlinked: Located[] = [];
    for (const pkg of packages.values()) {
      let root = pkg.localPath ? realPath(pkg.localPath) : undefined;
      if (root === undefined) root = realPath(globalCachePath(pkg));
      if (root === undefined) continue; // e.g. an optional package for another platform
      const suffix = `/node_modules/${pkg.name}`;
      const loc: Located = { pkg, root, entryDir: "" };
      if (pkg.localPath && root === realPath(pkg.localPath) && pkg.localPath.endsWith(suffix)) {
        loc.entryDir = pkg.localPath.slice(0, -suffix.length) || "/";
      } else {
        unlinked.push(loc);
      }
      self.#byId.set(pkg.id, loc);
    }
    if (unlinked.length > 0) {
      const spec = unlinked.map((l) => [
        l.pkg.id,
        l.pkg.name,
        l.root,
        l.pkg.dependencies.map((d) => [packages.get(d)?.name, self.#byId.get(d)?.root]),
      ]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      const base = join(cacheDir, "npm", sha256Hex(JSON.stringify(spec)).slice(0, 32));
      await ensureLinks(base, unlinked, packages, self.#byId);
      for (const l of unlinked) {
        l.linkDir = l.entryDir = join(base, folderName(l.pkg.id));
        self.#linked.push(l);
      }
      self.#linked.sort((a, b) => b.root.length - a.root.length);
    }
    return self;
  }

  /** Folder to resolve `name/subpath` of package `id` from, when it is available. */
  entryDir(id: string): { name: string; dir: string } | undefined {
    const l = this.#byId.get(id);
    return l && { name: l.pkg.name, dir: l.entryDir };
  }

  /** Link folder of the global-cache package holding `path`, if any. */
  linkDirOf(path: string): string | undefined {
    for (const l of this.#linked) {
      if (path.startsWith(l.root + "/")) return l.linkDir;
    }
    return undefined;
  }

  /** `npm:name@version/sub/path` for a file inside a package, else its file URL. */
  moduleUrl(path: string): string {
    for (const l of this.#linked) {
      if (path.startsWith(l.root + "/")) {
        return `npm:${l.pkg.name}@${l.pkg.version}/${path.slice(l.root.length + 1)}`;
      }
    }
    const m = /^(.*\/node_modules\/)((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(path);
    if (m) {
      const root = m[1]! + m[2]!;
      const version = this.#version(root);
      if (version !== undefined) {
        if (!root.startsWith(denoDir() + "/")) this.projectRoots.add(root);
        return `npm:${m[2]}@${version}/${m[3]}`;
      }
    }
    return pathToFileURL(path).href;
  }

  #version(root: string): string | undefined {
    if (!this.#versionOf.has(root)) {
      let v: string | undefined;
      try {
        const json = JSON.parse(Deno.readTextFileSync(join(root, "package.json")));
        if (typeof json?.version === "string") v = json.version;
      } catch {
        v = undefined;
      }
      this.#versionOf.set(root, v);
    }
    return this.#versionOf.get(root);
  }
}

async function ensureLinks(
  base: string,
  unlinked: Located[],
  packages: Map<string, NpmPackage>,
  located: Map<string, Located>,
): Promise<void> {
  try {
    await Deno.stat(join(base, ".complete"));
    return;
  } catch { /* build it */ }
  await Deno.mkdir(dirname(base), { recursive: true, mode: 0o700 });
  const tmp = `${base}.${crypto.randomUUID()}.tmp`;
  try {
    for (const l of unlinked) {
      const nm = join(tmp, folderName(l.pkg.id), "node_modules");
      const links: [string, string][] = [[l.pkg.name, l.root]];
      for (const dep of l.pkg.dependencies) {
        const target = located.get(dep)?.root;
        const name = packages.get(dep)?.name;
        if (target && name && name !== l.pkg.name) links.push([name, target]);
      }
      for (const [name, target] of links) {
        const at = join(nm, name);
        await Deno.mkdir(dirname(at), { recursive: true });
        await Deno.symlink(target, at);
      }
    }
    await Deno.writeTextFile(join(tmp, ".complete"), "");
    try {
      await Deno.rename(tmp, base);
    } catch {
      // Another build made the same folder first: use it.
      await Deno.stat(join(base, ".complete"));
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}
