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

/** Options for {@linkcode startScript}. */
export interface StartScriptOptions {
  /** The version whose uploaded Deno (~/.cache/fusion/deno/<version>/deno) is looked for; default the local one. */
  denoVersion?: string;
}

/**
 * One exec that finds Deno (`deno` option, PATH, ~/.deno/bin/deno, an uploaded one), checks the
 * cached agent's hash, and becomes the agent; or exits with EXIT_NO_DENO /
 * EXIT_NEED_AGENT. No secret is on this command line: they go over stdin.
 */
export function startScript(
  hash: string,
  deno: string | undefined,
  options: StartScriptOptions = {},
): string {
  if (!HEX.test(hash)) throw new TypeError("agent hash must be hex sha256");
  const cached = `$HOME/.cache/fusion/deno/${denoVersion(options.denoVersion)}/deno`;
  return wrap([
    `W=${sq(deno ?? "")}`,
    `A="$HOME/.cache/fusion/agent-${hash}.js"`,
    // A PATH search in builtins: $(command -v deno) would fork a subshell.
    `D="$W"`,
    `if [ -z "$D" ]; then IFS=:; for P in $PATH; do [ -n "$P" ] || P=.; if [ -f "$P/deno" ] && [ -x "$P/deno" ]; then D="$P/deno"; break; fi; done; unset IFS; fi`,
    `if [ -z "$D" ] && [ -x "$HOME/.deno/bin/deno" ]; then D="$HOME/.deno/bin/deno"; fi`,
    `if [ -z "$D" ] && [ -x "${cached}" ]; then D="${cached}"; fi`,
    `if [ -z "$D" ] || [ ! -x "$D" ]; then exit ${EXIT_NO_DENO}; fi`,
    // One fork and one exec for the hash (a pipe to cut costs three more: ~20 ms per connect).
    `if [ ! -f "$A" ]; then exit ${EXIT_NEED_AGENT}; fi`,
    `H=$(sha256sum "$A" 2>/dev/null || shasum -a 256 "$A" 2>/dev/null)`,
    `if [ "\${H%% *}" != ${hash} ]; then exit ${EXIT_NEED_AGENT}; fi`,
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

/** Exit status of the Deno install script when the uploaded Deno does not run on the server. */
export const EXIT_DENO_WONT_RUN = 94;

const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

function denoVersion(version: string = Deno.version.deno): string {
  if (!VERSION.test(version)) throw new TypeError(`unusable Deno version "${version}"`);
  return version;
}

/**
 * Prints `key=value` lines about the server: `os`, `arch` (uname), `getconf` (glibc),
 * `gunzip` (gzip or gunzip, when present), `sha=1` (sha256sum or shasum present), then,
 * when getconf said nothing, `ldd:` and the output of `ldd --version`.
 */
export function denoProbeScript(): string {
  return wrap([
    `echo "os=$(uname -s 2>/dev/null)"`,
    `echo "arch=$(uname -m 2>/dev/null)"`,
    `G=$(getconf GNU_LIBC_VERSION 2>/dev/null)`,
    `echo "getconf=$G"`,
    `for Z in gzip gunzip; do if command -v $Z >/dev/null 2>&1; then echo "gunzip=$Z"; break; fi; done`,
    `if command -v sha256sum >/dev/null 2>&1 || command -v shasum >/dev/null 2>&1; then echo sha=1; fi`,
    `if [ -z "$G" ]; then echo "ldd:"; ldd --version 2>&1; fi`,
    "exit 0",
  ].join("\n"));
}

/** Options for {@linkcode denoInstallScript}. */
export interface DenoInstallScriptOptions {
  /** The server's gzip or gunzip, when stdin is gzip-compressed. */
  gunzip?: "gzip" | "gunzip";
}

/**
 * Reads a Deno binary from stdin (decompressing it when told) into a temp name, checks its
 * sha256 and that it runs, and renames it to ~/.cache/fusion/deno/<version>/deno (dirs 0700).
 * Exits EXIT_BAD_UPLOAD for a bad hash or stream, EXIT_DENO_WONT_RUN when it does not run.
 */
export function denoInstallScript(
  version: string,
  sha256: string,
  options: DenoInstallScriptOptions = {},
): string {
  if (!HEX.test(sha256)) throw new TypeError("Deno hash must be hex sha256");
  const v = denoVersion(version);
  const unpack = options.gunzip === "gzip"
    ? "gzip -dc"
    : options.gunzip === "gunzip"
    ? "gunzip -c"
    : "cat";
  return wrap([
    `F="$HOME/.cache/fusion"; C="$F/deno/${v}"`,
    `mkdir -p "$C" && chmod 700 "$F" "$F/deno" "$C" || exit 1`,
    `T="$C/.deno.$$.tmp"`,
    // The temp file goes whatever happens, also when the upload is cut off.
    `trap 'rm -f "$T"' EXIT`,
    `trap 'exit 143' HUP INT TERM PIPE`,
    `umask 077`,
    `${unpack} > "$T" || exit ${EXIT_BAD_UPLOAD}`,
    `H=$(sha256sum "$T" 2>/dev/null || shasum -a 256 "$T" 2>/dev/null)`,
    `if [ "\${H%% *}" != ${sha256} ]; then exit ${EXIT_BAD_UPLOAD}; fi`,
    `chmod 700 "$T"`,
    `"$T" --version > /dev/null || exit ${EXIT_DENO_WONT_RUN}`,
    `mv -f "$T" "$C/deno"`,
  ].join("\n"));
}
