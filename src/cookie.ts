import { ProtocolError } from "./errors.ts";

/** Options for {@linkcode loadCookie}. */
export interface LoadCookieOptions {
  /** The cookie itself; wins over everything else. */
  cookie?: string | Uint8Array | undefined;
  /** Where to keep the cookie file; default `~/.fusion/cookie`. */
  path?: string;
}

/**
 * The cluster cookie: the option, else `FUSION_COOKIE`, else `~/.fusion/cookie`
 * (created 0600 with 32 random bytes, hex encoded, when missing).
 */
export function loadCookie(options: LoadCookieOptions = {}): Uint8Array {
  const enc = new TextEncoder();
  if (options.cookie !== undefined) {
    const c = typeof options.cookie === "string" ? enc.encode(options.cookie) : options.cookie;
    if (c.length === 0) throw new ProtocolError("the cookie must not be empty");
    return c;
  }
  const env = Deno.env.get("FUSION_COOKIE");
  if (env) return enc.encode(env);
  const home = Deno.env.get("HOME") ?? Deno.cwd();
  const path = options.path ?? `${home}/.fusion/cookie`;
  try {
    const text = Deno.readTextFileSync(path).trim();
    if (text) return enc.encode(text);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const dir = path.slice(0, path.lastIndexOf("/"));
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hex = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  try {
    // createNew: two nodes starting at once must agree on one cookie.
    Deno.writeTextFileSync(path, hex + "\n", { mode: 0o600, createNew: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    return enc.encode(Deno.readTextFileSync(path).trim());
  }
  return enc.encode(hex);
}
