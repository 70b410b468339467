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
}

/** Files whose mtime is this close to now are verified by content too. */
const RACY_MS = 1_000;

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
  const stamp = statStamp(path);
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
  for (const s of stamps) {
    let cur: FileStamp;
    try {
      cur = statStamp(s.path);
    } catch {
      return false;
    }
    if (cur.size !== s.size || cur.mtimeMs !== s.mtimeMs || cur.ino !== s.ino) return false;
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
