/** Local paths: `~` expansion, the home directory and the local user name. */
import { homedir, userInfo } from "node:os";

/** The local home directory. */
export function homeDir(): string {
  return Deno.env.get("HOME") ?? homedir();
}

/** The local user name. */
export function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return Deno.env.get("USER") ?? "root";
  }
}

/** Expands a leading "~" or "~/" to the home directory. */
export function expandHome(path: string): string {
  if (path === "~") return homeDir();
  if (path.startsWith("~/")) return homeDir() + path.slice(1);
  return path;
}

/** Shell-quotes one word for a POSIX shell. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A remote path for a shell command: "~/x" becomes "$HOME"/'x'. */
export function remotePath(path: string): string {
  if (path === "~") return `"$HOME"`;
  if (path.startsWith("~/")) return `"$HOME"/${shellQuote(path.slice(2))}`;
  return shellQuote(path);
}
