import { join } from "node:path";
import { type FileStamp, stampsValid } from "./_file_stamps.ts";
import { sha256Hex } from "./sha256_hex.ts";

/** What is remembered of one build: enough to prove it current without rebuilding. */
export interface CacheRecord {
  v: 1;
  key: string;
  entry: string;
  hash: string;
  modules: string[];
  stamps: FileStamp[];
}

interface Entry {
  record: CacheRecord;
  code: Uint8Array;
}

const MAX_ENTRIES = 256;
const HEX = /^[0-9a-f]{64}$/;

/**
 * Built bundles by their inputs: in memory for this process and, when given a
 * folder, on disk (`<dir>/bundles/<key hash>.json` + `<dir>/bundles/<code hash>.js`).
 * A hit is served only after every input file's stamp still matches.
 */
export class BundleCache {
  readonly #mem = new Map<string, Entry>();

  /** A current bundle for `key`, or undefined. */
  get(key: string, dir: string | undefined): Entry | undefined {
    const hit = this.#mem.get(key);
    if (hit) {
      if (stampsValid(hit.record.stamps)) return hit;
      this.#mem.delete(key);
      return undefined;
    }
    if (dir === undefined) return undefined;
    const fromDisk = this.#readDisk(key, dir);
    if (fromDisk) this.#remember(key, fromDisk);
    return fromDisk;
  }

  /** Remembers a fresh build (and writes it to disk when `dir` is given). */
  async set(record: CacheRecord, code: Uint8Array, dir: string | undefined): Promise<void> {
    this.#remember(record.key, { record, code });
    if (dir === undefined) return;
    try {
      const folder = join(dir, "bundles");
      await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
      await writeAtomic(join(folder, `${record.hash}.js`), code);
      await writeAtomic(
        join(folder, `${sha256Hex(record.key).slice(0, 40)}.json`),
        new TextEncoder().encode(JSON.stringify(record)),
      );
    } catch {
      // The disk cache is an optimisation: a read-only home still bundles.
    }
  }

  /** Forgets everything held in memory. */
  clear(): void {
    this.#mem.clear();
  }

  #remember(key: string, entry: Entry): void {
    this.#mem.delete(key);
    this.#mem.set(key, entry);
    if (this.#mem.size > MAX_ENTRIES) this.#mem.delete(this.#mem.keys().next().value!);
  }

  #readDisk(key: string, dir: string): Entry | undefined {
    try {
      const folder = join(dir, "bundles");
      const record = JSON.parse(
        Deno.readTextFileSync(join(folder, `${sha256Hex(key).slice(0, 40)}.json`)),
      ) as CacheRecord;
      if (record?.v !== 1 || record.key !== key || !HEX.test(record.hash)) return undefined;
      if (!Array.isArray(record.stamps) || !stampsValid(record.stamps)) return undefined;
      const code = Deno.readFileSync(join(folder, `${record.hash}.js`));
      if (sha256Hex(code) !== record.hash) return undefined;
      return { record, code };
    } catch {
      return undefined;
    }
  }
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeFile(tmp, bytes, { mode: 0o600 });
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}
