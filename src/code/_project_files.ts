import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BundleError } from "../errors.ts";

/** Compiler options of a deno.json that change how esbuild compiles TS/JSX. */
export interface CompilerOptions {
  experimentalDecorators?: boolean;
  jsx?: string;
  jsxFactory?: string;
  jsxFragmentFactory?: string;
  jsxImportSource?: string;
}

/** Where `deno info` runs and which files decide how the module graph resolves. */
export interface ProjectFiles {
  /** Working directory for `deno info` (Deno discovers deno.json/package.json from it). */
  cwd: string;
  /** An explicit `--config`, when the caller gave one. */
  config?: string;
  /** Config, import map and package.json files (present or not) whose change means a rebuild. */
  watch: string[];
  /** Lockfiles, stamped after `deno info` (which may write them). */
  lockfiles: string[];
  compilerOptions: CompilerOptions;
}

const CONFIG_NAMES = ["deno.json", "deno.jsonc"];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function ancestors(dir: string): string[] {
  const out = [dir];
  for (let d = dir; dirname(d) !== d;) {
    d = dirname(d);
    out.push(d);
  }
  return out;
}

/** Drops // and /* comments and trailing commas outside strings (JSONC → JSON). */
export function stripJsonc(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out.replace(/,(\s*[}\]])/g, "$1");
}

function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new BundleError(`cannot read config ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const v = JSON.parse(path.endsWith(".jsonc") ? stripJsonc(text) : text);
    return v && typeof v === "object" ? v as Record<string, unknown> : {};
  } catch {
    try {
      return JSON.parse(stripJsonc(text));
    } catch (e) {
      throw new BundleError(`config ${path} is not valid JSON: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

function pickCompilerOptions(config: Record<string, unknown>): CompilerOptions {
  const co = config.compilerOptions;
  if (!co || typeof co !== "object") return {};
  const src = co as Record<string, unknown>;
  const out: CompilerOptions = {};
  if (typeof src.experimentalDecorators === "boolean") {
    out.experimentalDecorators = src.experimentalDecorators;
  }
  for (const k of ["jsx", "jsxFactory", "jsxFragmentFactory", "jsxImportSource"] as const) {
    const v = src[k];
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

/** Adds the files a deno.json points at (import map, lockfile). */
function addReferenced(
  configPath: string,
  config: Record<string, unknown>,
  watch: string[],
  lockfiles: string[],
): void {
  const dir = dirname(configPath);
  if (typeof config.importMap === "string" && !/^[a-z]+:\/\//i.test(config.importMap)) {
    watch.push(resolve(dir, config.importMap));
  }
  const lock = config.lock;
  if (typeof lock === "string") lockfiles.push(resolve(dir, lock));
  else if (
    lock && typeof lock === "object" && typeof (lock as { path?: unknown }).path === "string"
  ) {
    lockfiles.push(resolve(dir, (lock as { path: string }).path));
  }
}

/**
 * Finds where `deno info` should run for `entry` and the files to watch.
 * Deno discovers its config from the working directory, so a file module is
 * resolved from its own directory when a deno.json or package.json is there or
 * above it, else from `Deno.cwd()`, the way `deno run` from there would.
 */
export function findProjectFiles(entry: URL, config?: string): ProjectFiles {
  const watch: string[] = [];
  const lockfiles: string[] = [];
  let compilerOptions: CompilerOptions = {};
  if (config !== undefined) {
    const path = isAbsolute(config) ? config : resolve(Deno.cwd(), config);
    const parsed = readConfig(path);
    watch.push(path);
    addReferenced(path, parsed, watch, lockfiles);
    compilerOptions = pickCompilerOptions(parsed);
    const cwd = dirname(path);
    for (const d of ancestors(cwd)) {
      watch.push(join(d, "package.json"));
      lockfiles.push(join(d, "deno.lock"));
    }
    return { cwd, config: path, watch, lockfiles, compilerOptions };
  }
  let cwd = Deno.cwd();
  if (entry.protocol === "file:") {
    const dir = dirname(fileURLToPath(entry));
    const found = ancestors(dir).some((d) =>
      [...CONFIG_NAMES, "package.json"].some((n) => exists(join(d, n)))
    );
    if (found) cwd = dir;
  }
  let nearest = true;
  for (const d of ancestors(cwd)) {
    lockfiles.push(join(d, "deno.lock"));
    for (const name of [...CONFIG_NAMES, "package.json"]) {
      const path = join(d, name);
      watch.push(path);
      if (!CONFIG_NAMES.includes(name) || !exists(path)) continue;
      const parsed = readConfig(path);
      addReferenced(path, parsed, watch, lockfiles);
      if (nearest) compilerOptions = pickCompilerOptions(parsed);
      nearest = false;
    }
  }
  return { cwd, watch: [...new Set(watch)], lockfiles: [...new Set(lockfiles)], compilerOptions };
}
