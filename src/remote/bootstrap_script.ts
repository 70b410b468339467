/** Exit status of the start script when no Deno was found. */
export const EXIT_NO_DENO = 90;
/** Exit status of the start script when the agent is not cached (or fails its hash). */
export const EXIT_NEED_AGENT = 91;
/** Exit status of the install script when the uploaded bundle fails its hash. */
export const EXIT_BAD_UPLOAD = 92;

const HEX = /^[0-9a-f]{64}$/;

function sq(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

// Runs under /bin/sh whatever the login shell is.
function wrap(script: string): string {
  return `exec /bin/sh -c ${sq(script)}`;
}

const SHA =
  `sha() { (sha256sum "$1" 2>/dev/null || shasum -a 256 "$1" 2>/dev/null) | cut -c1-64; }`;

/**
 * One exec that finds Deno (`deno` option, PATH, ~/.deno/bin/deno), checks the
 * cached agent's hash, and becomes the agent; or exits with EXIT_NO_DENO /
 * EXIT_NEED_AGENT. No secret is on this command line: they go over stdin.
 */
export function startScript(hash: string, deno: string | undefined): string {
  if (!HEX.test(hash)) throw new TypeError("agent hash must be hex sha256");
  return wrap([
    SHA,
    `W=${sq(deno ?? "")}`,
    `A="$HOME/.cache/fusion/agent-${hash}.js"`,
    `if [ -n "$W" ]; then D="$W"; else D=$(command -v deno 2>/dev/null || true); fi`,
    `if [ -z "$D" ] && [ -x "$HOME/.deno/bin/deno" ]; then D="$HOME/.deno/bin/deno"; fi`,
    `if [ -z "$D" ] || [ ! -x "$D" ]; then exit ${EXIT_NO_DENO}; fi`,
    `if [ ! -f "$A" ] || [ "$(sha "$A")" != ${hash} ]; then exit ${EXIT_NEED_AGENT}; fi`,
    `exec "$D" run -A --no-config --no-lock --no-prompt --quiet "$A"`,
  ].join("\n"));
}

/** Reads the bundle from stdin into a temp name, checks its hash, renames it into the cache. */
export function installScript(hash: string): string {
  if (!HEX.test(hash)) throw new TypeError("agent hash must be hex sha256");
  return wrap([
    "set -e",
    SHA,
    `C="$HOME/.cache/fusion"`,
    `mkdir -p "$C" && chmod 700 "$C"`,
    `T="$C/.agent-${hash}.$$.tmp"`,
    `umask 077; cat > "$T"`,
    `if [ "$(sha "$T")" != ${hash} ]; then rm -f "$T"; exit ${EXIT_BAD_UPLOAD}; fi`,
    `mv -f "$T" "$C/agent-${hash}.js"`,
  ].join("\n"));
}
