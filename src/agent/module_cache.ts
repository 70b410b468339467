import { ProtocolError } from "../errors.ts";

const HEX = /^[0-9a-f]{64}$/;

/** Hex sha256 of bytes. */
async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Pushed bundles on the server, content-addressed by sha256: on disk under
 * `~/.cache/fusion/modules/` (0700) and, once imported, in memory.
 */
export class ModuleCache {
  readonly dir: string;
  readonly #onDisk = new Set<string>();
  readonly #loaded = new Map<string, Promise<Record<string, unknown>>>();
  readonly #verified = new Map<string, Promise<string>>();

  constructor(dir = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/fusion/modules`) {
    this.dir = dir;
  }

  #path(hash: string): string {
    if (!HEX.test(hash)) throw new ProtocolError(`not a module hash: ${String(hash).slice(0, 80)}`);
    return `${this.dir}/${hash}.js`;
  }

  /** True when the bundle with this hash is here. */
  has(hash: string): boolean {
    if (this.#onDisk.has(hash) || this.#loaded.has(hash)) return true;
    try {
      Deno.statSync(this.#path(hash));
      this.#onDisk.add(hash);
      return true;
    } catch {
      return false;
    }
  }

  /** Checks `code` against `hash` and stores it (temp name, then rename). */
  async store(hash: string, code: Uint8Array): Promise<void> {
    const path = this.#path(hash);
    const actual = await sha256Hex(code);
    if (actual !== hash) {
      throw new ProtocolError(`module bytes hash to ${actual}, not ${hash}`);
    }
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, code, { mode: 0o600 });
    await Deno.rename(tmp, path);
    this.#onDisk.add(hash);
  }

  /** Imports the bundle once and returns its namespace. */
  load(hash: string): Promise<Record<string, unknown>> {
    let m = this.#loaded.get(hash);
    if (!m) {
      const path = this.#path(hash);
      m = (async () => {
        // Verify what is on disk before running it: the cache may be older than this agent.
        const code = await Deno.readFile(path).catch(() => {
          throw new ModuleMissingError(hash);
        });
        if (await sha256Hex(code) !== hash) {
          await Deno.remove(path).catch(() => {});
          throw new ModuleMissingError(hash);
        }
        return await import(new URL(`file://${path}`).href) as Record<string, unknown>;
      })();
      m.catch(() => this.#loaded.delete(hash));
      this.#loaded.set(hash, m);
    }
    return m;
  }

  /**
   * The path of the bundle, its bytes checked against `hash` (once), for a
   * sandbox process to import. Rejects with ModuleMissingError.
   */
  verifiedPath(hash: string): Promise<string> {
    let p = this.#verified.get(hash);
    if (!p) {
      const path = this.#path(hash);
      p = (async () => {
        const code = await Deno.readFile(path).catch(() => {
          throw new ModuleMissingError(hash);
        });
        if (await sha256Hex(code) !== hash) {
          await Deno.remove(path).catch(() => {});
          throw new ModuleMissingError(hash);
        }
        return path;
      })();
      p.catch(() => this.#verified.delete(hash));
      this.#verified.set(hash, p);
    }
    return p;
  }

  /** Removes every cached bundle (`fusion clean`). */
  async clear(): Promise<number> {
    let n = 0;
    try {
      for await (const e of Deno.readDir(this.dir)) {
        if (e.name.endsWith(".js") || e.name.endsWith(".tmp")) {
          await Deno.remove(`${this.dir}/${e.name}`).catch(() => {});
          n++;
        }
      }
    } catch { /* no cache yet */ }
    this.#onDisk.clear();
    this.#verified.clear();
    return n;
  }
}

/** The agent does not hold a module the caller assumed it had. */
export class ModuleMissingError extends Error {
  constructor(hash: string) {
    super(`module ${hash} is not on this node`);
    this.name = "ModuleMissingError";
  }
}
