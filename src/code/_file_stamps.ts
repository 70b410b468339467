import { dirname } from "node:path";
import { sha256Hex } from "./sha256_hex.ts";

/**
 * What a build saw of one input file. `size` is -1 for a file that did not
 * exist (its later creation invalidates too). `hash` is kept only while the
 * file is "racily clean": modified so recently that a later edit could land
 * within the same coarse mtime tick, so size and mtime alone cannot prove it
 * unchanged (git's index has the same problem).
 */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  hash?: string;
  /**
   * For a missing file: its folder as seen before the file was found missing,
   * kept only when the folder had been quiet for {@linkcode RACY_MS}. While the
   * folder's mtime is unchanged no entry was added to it, so the file is still
   * missing and need not be stat'ed (a failed stat costs ~4× a good one, and
   * most of a project's watched config files do not exist).
   */
  dir?: DirStamp;
}

/**
 * A folder as stat'ed. ctime as well as mtime: extracting an archive or `cp -a`
 * adds entries and then sets the folder's mtime back, but nothing can set back
 * its ctime (Deno gives it in whole seconds, which is why "quiet" is judged on it).
 */
interface DirStamp {
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

/** Files whose mtime is this close to now are verified by content too. */
const RACY_MS = 1_000;

function dirStamp(path: string): DirStamp | undefined {
  try {
    const st = Deno.statSync(dirname(path));
    if (!st.isDirectory) return undefined;
    return {
      mtimeMs: st.mtime?.getTime() ?? 0,
      ctimeMs: st.ctime?.getTime() ?? Infinity,
      ino: st.ino ?? 0,
      dev: st.dev,
    };
  } catch {
    return undefined;
  }
}

const quiet = (d: DirStamp, now: number) =>
  d.ctimeMs <= now - RACY_MS && d.mtimeMs <= now - RACY_MS;

const sameDir = (a: DirStamp, b: DirStamp) =>
  a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev;

/** True when the folder has no entry of that name: not even a dangling symlink, which could start resolving without the folder changing. */
function noEntry(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return false;
  } catch (e) {
    return e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory;
  }
}

function statStamp(path: string): FileStamp {
  try {
    const st = Deno.statSync(path);
    return { path, size: st.size, mtimeMs: st.mtime?.getTime() ?? 0, ino: st.ino ?? 0 };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return { path, size: -1, mtimeMs: 0, ino: 0 };
    }
    throw e;
  }
}

/**
 * Stamps a file before its content is used. Pass the bytes read right after
 * this call when the caller reads the file anyway; otherwise a racy file is
 * read here.
 */
export function takeStamp(path: string, now = Date.now()): FileStamp {
  const dir = dirStamp(path); // before the file: a file added in between then invalidates
  const stamp = statStamp(path);
  if (stamp.size === -1 && dir && quiet(dir, now) && noEntry(path)) stamp.dir = dir;
  if (stamp.size >= 0 && stamp.mtimeMs > now - RACY_MS) {
    try {
      stamp.hash = sha256Hex(Deno.readFileSync(path));
    } catch {
      stamp.size = -2; // unreadable: never matches, so the next call rebuilds
    }
  }
  return stamp;
}

/** Like {@linkcode takeStamp} for a file whose bytes the caller reads itself, after the stat. */
export function stampThenRead(
  path: string,
  now = Date.now(),
): { stamp: FileStamp; bytes: Uint8Array } {
  const stamp = statStamp(path);
  const bytes = Deno.readFileSync(path);
  if (stamp.mtimeMs > now - RACY_MS) stamp.hash = sha256Hex(bytes);
  return { stamp, bytes };
}

/**
 * True when every file still matches its stamp. Stats only, except for racy
 * files, which are hashed; once a racy file verifies long enough after its
 * mtime it is no longer racy and its hash is dropped.
 */
export function stampsValid(stamps: readonly FileStamp[], now = Date.now()): boolean {
  const dirs = new Map<string, DirStamp | null>();
  const dirNow = (path: string): DirStamp | null => {
    const d = dirname(path);
    let st = dirs.get(d);
    if (st === undefined) dirs.set(d, st = dirStamp(path) ?? null);
    return st;
  };
  for (const s of stamps) {
    // A missing file's folder is stat'ed before the file, so that a file added in between shows.
    const d = s.size === -1 ? dirNow(s.path) : null;
    if (s.size === -1 && s.dir) {
      if (d && sameDir(d, s.dir)) continue;
      delete s.dir;
    }
    let cur: FileStamp;
    try {
      cur = statStamp(s.path);
    } catch {
      return false;
    }
    if (cur.size !== s.size || cur.mtimeMs !== s.mtimeMs || cur.ino !== s.ino) return false;
    if (d && quiet(d, now) && noEntry(s.path)) s.dir = d;
    if (s.hash !== undefined) {
      let h: string;
      try {
        h = sha256Hex(Deno.readFileSync(s.path));
      } catch {
        return false;
      }
      if (h !== s.hash) return false;
      if (s.mtimeMs <= now - RACY_MS) delete s.hash;
    }
  }
  return true;
}
