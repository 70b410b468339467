/**
 * Zero-install servers: uploads the local Deno binary to a server that has none
 * (same OS and CPU, a new enough glibc), gzip-compressed and streamed, hash-checked
 * and cached under ~/.cache/fusion/deno/<version>/deno.
 * @module
 */
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import { BootstrapError, TimeoutError } from "../errors.ts";
import type { ExecChannel } from "../ssh/backend.ts";
import {
  denoInstallScript,
  denoProbeScript,
  EXIT_BAD_UPLOAD,
  EXIT_DENO_WONT_RUN,
} from "./bootstrap_script.ts";

/** The Deno binary running this process, as it would be uploaded. */
export interface LocalDeno {
  /** Deno.execPath(). */
  path: string;
  /** Deno.version.deno. */
  version: string;
  /** Deno.build.os and Deno.build.arch. */
  os: string;
  arch: string;
  /** Size of the binary. */
  bytes: number;
  /** Hex sha256 of the binary. */
  sha256: string;
  /** The newest GLIBC_x.y symbol version the binary needs; undefined when it needs no glibc. */
  glibc: string | undefined;
}

let local: Promise<LocalDeno> | undefined;

/** Describes (and hashes, once per process) the Deno binary running this process. */
export function localDeno(): Promise<LocalDeno> {
  return local ??= (async () => {
    if (Deno.build.standalone) {
      throw new BootstrapError(
        "installDeno uploads the running Deno binary, and this program is a `deno compile` executable: install Deno on the server instead",
      );
    }
    const path = Deno.execPath();
    const { size } = await Deno.stat(path);
    const [sha256, glibc] = await Promise.all([
      hashFile(path),
      Deno.build.os === "linux" ? requiredGlibc(path) : Promise.resolve(undefined),
    ]);
    return {
      path,
      version: Deno.version.deno,
      os: Deno.build.os,
      arch: Deno.build.arch,
      bytes: size,
      sha256,
      glibc,
    };
  })().catch((e) => {
    local = undefined;
    throw e;
  });
}

async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  using file = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    h.update(buf.subarray(0, n));
  }
  return h.digest("hex");
}

/** What the probe script found on the server. */
export interface ServerPlatform {
  /** `uname -s` and `uname -m` as printed. */
  os: string;
  arch: string;
  /** The server's C library, when it could be told. */
  libc: { kind: "glibc"; version: string } | { kind: "musl" } | undefined;
  /** The server's gzip or gunzip. */
  gunzip: "gzip" | "gunzip" | undefined;
  /** Whether sha256sum or shasum is there. */
  sha: boolean;
}

/** Parses the output of {@linkcode denoProbeScript}. */
export function parseProbe(text: string): ServerPlatform {
  const [head = "", ldd] = splitOnce(text, /^ldd:$/m);
  const kv = new Map<string, string>();
  for (const line of head.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  const gz = kv.get("gunzip");
  return {
    os: kv.get("os") ?? "",
    arch: kv.get("arch") ?? "",
    libc: parseLibc(kv.get("getconf") ?? "", ldd ?? ""),
    gunzip: gz === "gzip" || gz === "gunzip" ? gz : undefined,
    sha: kv.get("sha") === "1",
  };
}

function splitOnce(text: string, re: RegExp): [string, string?] {
  const m = re.exec(text);
  if (!m) return [text];
  return [text.slice(0, m.index), text.slice(m.index + m[0].length + 1)];
}

function parseLibc(getconf: string, ldd: string): ServerPlatform["libc"] {
  const g = /^glibc\s+(\d+\.\d+)/i.exec(getconf);
  if (g) return { kind: "glibc", version: g[1]! };
  if (/musl/i.test(ldd)) return { kind: "musl" };
  // "ldd (Ubuntu GLIBC 2.35-0ubuntu3) 2.35", "ldd (GNU libc) 2.17"
  const first = ldd.split("\n")[0] ?? "";
  const l = /(?:GNU libc|GLIBC|glibc|GNU C Library).*?(\d+\.\d+)\s*$/.exec(first);
  return l ? { kind: "glibc", version: l[1]! } : undefined;
}

const OS_NAMES: Record<string, string> = { android: "linux" };
const ARCH_NAMES: Record<string, string> = { amd64: "x86_64", arm64: "aarch64" };

/** Throws BootstrapError when the local Deno cannot run on that server. */
export function checkPlatform(deno: LocalDeno, server: ServerPlatform, host: string): void {
  const os = server.os.toLowerCase();
  const arch = ARCH_NAMES[server.arch.toLowerCase()] ?? server.arch.toLowerCase();
  if (os !== (OS_NAMES[deno.os] ?? deno.os) || arch !== deno.arch) {
    throw new BootstrapError(
      `cannot install Deno on ${host}: it is ${server.os || "(unknown OS)"} ${
        server.arch || "(unknown CPU)"
      }, and the local Deno is built for ${deno.os} ${deno.arch}; install Deno there yourself or set target.deno`,
    );
  }
  if (deno.glibc === undefined) return;
  const libc = server.libc;
  if (libc?.kind === "musl") {
    throw new BootstrapError(
      `cannot install Deno on ${host}: it uses musl libc, and the local Deno needs glibc ${deno.glibc} or newer; install Deno there yourself or set target.deno`,
    );
  }
  if (libc && compareVersions(libc.version, deno.glibc) < 0) {
    throw new BootstrapError(
      `cannot install Deno on ${host}: its glibc is ${libc.version}, and the local Deno needs glibc ${deno.glibc} or newer; install Deno there yourself or set target.deno`,
    );
  }
}

/** Compares dotted numeric versions ("2.17" < "2.27"). */
export function compareVersions(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const SHT_GNU_VERNEED = 0x6ffffffe;

/**
 * The newest GLIBC_x.y version an ELF binary's dynamic symbols need (from its
 * .gnu.version_r section, what `objdump -T` shows); undefined when it is not a
 * little-endian ELF file or needs no glibc.
 */
export async function requiredGlibc(path: string): Promise<string | undefined> {
  using file = await Deno.open(path);
  const read = async (offset: number, length: number): Promise<DataView> => {
    const buf = new Uint8Array(length);
    await file.seek(offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < length) {
      const n = await file.read(buf.subarray(got));
      if (n === null) throw new RangeError("ELF file truncated");
      got += n;
    }
    return new DataView(buf.buffer);
  };
  try {
    const h = await read(0, 64);
    if (h.getUint32(0) !== 0x7f454c46 || h.getUint8(5) !== 1) return undefined;
    const is64 = h.getUint8(4) === 2;
    const shoff = is64 ? Number(h.getBigUint64(0x28, true)) : h.getUint32(0x20, true);
    const shentsize = h.getUint16(is64 ? 0x3a : 0x2e, true);
    const shnum = h.getUint16(is64 ? 0x3c : 0x30, true);
    if (shoff === 0 || shnum === 0 || shentsize < (is64 ? 64 : 40)) return undefined;
    const sh = await read(shoff, shnum * shentsize);
    const section = (i: number) => {
      const o = i * shentsize;
      return {
        type: sh.getUint32(o + 4, true),
        offset: is64 ? Number(sh.getBigUint64(o + 24, true)) : sh.getUint32(o + 16, true),
        size: is64 ? Number(sh.getBigUint64(o + 32, true)) : sh.getUint32(o + 20, true),
        link: sh.getUint32(o + (is64 ? 40 : 24), true),
        info: sh.getUint32(o + (is64 ? 44 : 28), true),
      };
    };
    let best: string | undefined;
    for (let i = 0; i < shnum; i++) {
      const s = section(i);
      if (s.type !== SHT_GNU_VERNEED || s.link >= shnum) continue;
      const strtab = section(s.link);
      const names = new Uint8Array((await read(strtab.offset, strtab.size)).buffer);
      const vn = await read(s.offset, s.size);
      const name = (at: number) => {
        const end = names.indexOf(0, at);
        return new TextDecoder().decode(names.subarray(at, end < 0 ? names.length : end));
      };
      // Verneed entries, each with a list of Vernaux (bounded by the section's counts).
      let at = 0;
      for (let n = 0; n < s.info && at + 16 <= s.size; n++) {
        const cnt = vn.getUint16(at + 2, true);
        let aux = at + vn.getUint32(at + 8, true);
        for (let k = 0; k < cnt && aux + 16 <= s.size; k++) {
          const m = /^GLIBC_(\d+(?:\.\d+)+)$/.exec(name(vn.getUint32(aux + 8, true)));
          if (m && (!best || compareVersions(m[1]!, best) > 0)) best = m[1]!;
          const next = vn.getUint32(aux + 12, true);
          if (next === 0) break;
          aux += next;
        }
        const next = vn.getUint32(at + 12, true);
        if (next === 0) break;
        at += next;
      }
    }
    return best;
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

/** Options for {@linkcode installDeno}. */
export interface InstallDenoOptions {
  /** Progress lines. */
  log?: (line: string) => void;
  /** Gives up when a step makes no progress for this long; default 30 000 ms. */
  stallTimeoutMs?: number;
  /** Compress when the server can decompress (default true). */
  compress?: boolean;
}

/** What {@linkcode installDeno} did. */
export interface DenoInstallResult {
  /** Where Deno now is on the server, relative to its home ("~/.cache/fusion/deno/<version>/deno"). */
  path: string;
  /** Size of the binary. */
  bytes: number;
  /** Bytes sent over the channel (compressed or not). */
  sent: number;
  /** Whether it went gzip-compressed. */
  compressed: boolean;
  /** Time taken by compressing (when not cached locally), the upload and the server's checks. */
  ms: number;
}

// The server hashes ~100 MB and runs `deno --version` after the last byte.
const VERIFY_TIMEOUT_MS = 120_000;
const PROBE_OUTPUT_LIMIT = 64 * 1024;

/**
 * Installs the local Deno on a server that has none: one exec probes the platform
 * (refused with BootstrapError when the binary cannot run there), a second streams
 * the binary (gzip when the server has gzip/gunzip) into the install script, which
 * checks its hash and that it runs before renaming it into the cache. `exec` runs
 * a command on the server (the caller's channel bookkeeping stays the caller's).
 * The connect deadline does not cover this; `stallTimeoutMs` does.
 */
export async function installDeno(
  exec: (command: string) => Promise<ExecChannel>,
  host: string,
  options: InstallDenoOptions = {},
): Promise<DenoInstallResult> {
  const log = options.log ?? (() => {});
  const stallMs = options.stallTimeoutMs ?? 30_000;
  const denoP = localDeno();
  denoP.catch(() => {});

  const probe = await exec(denoProbeScript());
  const stdout = collect(probe.stdout, PROBE_OUTPUT_LIMIT);
  const stderr = collect(probe.stderr, PROBE_OUTPUT_LIMIT);
  probe.stdin.end();
  const probed = await within(probe.exit, stallMs, () => {
    probe.close();
    return new TimeoutError(`probing ${host} for a Deno upload took over ${stallMs} ms`);
  });
  if (probed.code !== 0) {
    throw new BootstrapError(
      `probing ${host} for a Deno upload failed (exit status ${probed.code ?? "none"})`,
      { stderr: stderr() },
    );
  }
  const server = parseProbe(stdout());
  const deno = await denoP;
  checkPlatform(deno, server, host);
  if (!server.sha) {
    throw new BootstrapError(
      `cannot install Deno on ${host}: it has neither sha256sum nor shasum to check the upload`,
    );
  }
  const libc = !server.libc
    ? "libc unknown"
    : server.libc.kind === "glibc"
    ? `glibc ${server.libc.version}`
    : "musl";
  const gunzip = options.compress === false ? undefined : server.gunzip;
  log(
    `${host} is ${server.os} ${server.arch} (${libc}); the local Deno ${deno.version} is ${deno.os} ${deno.arch}${
      deno.glibc ? `, needs glibc ${deno.glibc}` : ""
    }`,
  );

  const tStart = performance.now();
  // Compressed once per binary into the local cache: a fan-out to many servers
  // compresses once, not once per server. Without that cache, compress in the stream.
  const packed = gunzip ? await gzippedDeno(deno, log) : undefined;
  const source = packed
    ? { path: packed.path, total: packed.bytes, compress: false }
    : { path: deno.path, total: deno.bytes, compress: gunzip !== undefined };
  const t0 = performance.now();
  const ch = await exec(
    denoInstallScript(deno.version, deno.sha256, gunzip ? { gunzip } : {}),
  );
  const errText = collect(ch.stderr, PROBE_OUTPUT_LIMIT);
  ch.stdout.resume(); // the channel closes only once its output is read
  let sent: number;
  try {
    log(
      `uploading Deno ${deno.version} (${mb(deno.bytes)}${
        gunzip ? ", gzip" : ", uncompressed: the server has no gzip"
      }) to ${host}`,
    );
    sent = await streamFile(source, ch, { stallMs, log, t0 });
  } catch (e) {
    ch.close();
    await within(ch.exit, 2000, () => new Error()).catch(() => {});
    if (e instanceof UploadCutOff) throw failure(e.exit.code, host, errText());
    throw e;
  }
  const sentMs = performance.now() - t0;
  log(
    `sent Deno to ${host}: ${mb(deno.bytes)} as ${mb(sent)}${gunzip ? " gzip" : ""} in ${
      (sentMs / 1000).toFixed(1)
    } s; the server checks it`,
  );
  const { code } = await within(ch.exit, VERIFY_TIMEOUT_MS, () => {
    ch.close();
    return new TimeoutError(
      `${host} did not finish checking the uploaded Deno within ${VERIFY_TIMEOUT_MS} ms`,
    );
  });
  if (code !== 0) {
    // A damaged local gzip is not used again.
    if (code === EXIT_BAD_UPLOAD && packed) await forgetGzip(packed.path);
    throw failure(code, host, errText());
  }
  const ms = performance.now() - tStart;
  const path = `~/.cache/fusion/deno/${deno.version}/deno`;
  log(`installed Deno ${deno.version} at ${path} on ${host} (${(ms / 1000).toFixed(1)} s)`);
  return { path, bytes: deno.bytes, sent, compressed: gunzip !== undefined, ms };
}

function failure(code: number | null, host: string, stderr: string): BootstrapError {
  const tail = stderr.trim() ? `:\n${stderr.trim()}` : "";
  if (code === EXIT_BAD_UPLOAD) {
    return new BootstrapError(`the Deno uploaded to ${host} failed its hash check${tail}`, {
      stderr,
    });
  }
  if (code === EXIT_DENO_WONT_RUN) {
    return new BootstrapError(`the Deno uploaded to ${host} does not run there${tail}`, {
      stderr,
    });
  }
  return new BootstrapError(
    `installing Deno on ${host} failed (exit status ${code ?? "none"})${tail}`,
    { stderr },
  );
}

/** The server's end went away before the whole binary was sent. */
class UploadCutOff extends Error {
  constructor(readonly exit: { code: number | null }) {
    super("the install script ended before the upload did");
  }
}

interface StreamSource {
  path: string;
  /** Size of the file at `path`. */
  total: number;
  /** Gzip it on the way. */
  compress: boolean;
}

interface StreamOptions {
  stallMs: number;
  log: (line: string) => void;
  t0: number;
}

// Streams the file (through gzip) into the channel, waiting for it to drain: at most
// a few chunks are in memory at once. Returns the bytes sent.
async function streamFile(src: StreamSource, ch: ExecChannel, o: StreamOptions): Promise<number> {
  let read = 0;
  let sent = 0;
  let nextReport = 0.1;
  let exited: { code: number | null } | undefined;
  ch.exit.then((e) => exited = e);
  const file = await Deno.open(src.path);
  const counted = file.readable.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        read += chunk.length;
        c.enqueue(chunk);
      },
    }),
  );
  const stream = src.compress
    ? counted.pipeThrough(new CompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>)
    : counted;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (exited) throw new UploadCutOff(exited);
      sent += value.length;
      if (!ch.stdin.write(value)) await drained(ch.stdin, ch.exit, o.stallMs);
      if (read >= nextReport * src.total && read < src.total) {
        o.log(
          `uploading Deno: ${Math.floor((read / src.total) * 100)}% (${mb(sent)} sent, ${
            ((performance.now() - o.t0) / 1000).toFixed(1)
          } s)`,
        );
        while (nextReport * src.total <= read) nextReport += 0.1;
      }
    }
  } catch (e) {
    await reader.cancel().catch(() => {});
    throw e;
  }
  ch.stdin.end();
  return sent;
}

async function drained(
  stdin: Writable,
  exit: Promise<{ code: number | null }>,
  stallMs: number,
): Promise<void> {
  let onDrain = () => {};
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      new Promise<void>((r) => {
        onDrain = r;
        stdin.once("drain", onDrain);
      }),
      exit.then((e) => {
        throw new UploadCutOff(e);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`the Deno upload stalled: no progress for ${stallMs} ms`)),
          stallMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
    stdin.off("drain", onDrain);
  }
}

function within<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A stream's text so far, at most `limit` bytes of it.
function collect(
  stream: { on(e: string, f: (c: Uint8Array) => void): unknown },
  limit: number,
): () => string {
  const chunks: Uint8Array[] = [];
  let n = 0;
  stream.on("data", (c: Uint8Array) => {
    if (n < limit) chunks.push(c.subarray(0, limit - n));
    n += c.length;
  });
  return () => {
    const dec = new TextDecoder();
    return chunks.map((c) => dec.decode(c, { stream: true })).join("") + dec.decode();
  };
}

/** Where the gzip of the local Deno is kept: $XDG_CACHE_HOME/fusion/deno-upload, else ~/.cache/…. */
function uploadCacheDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`;
  return `${base}/fusion/deno-upload`;
}

// Per cache folder (XDG_CACHE_HOME may change between calls).
const gzipped = new Map<string, Promise<{ path: string; bytes: number } | undefined>>();

/**
 * The local Deno gzip-compressed (CompressionStream, file to file) in the local
 * cache, made once per binary and shared by concurrent uploads; undefined when the
 * cache cannot be written (the upload then compresses on the way).
 */
function gzippedDeno(
  deno: LocalDeno,
  log: (line: string) => void,
): Promise<{ path: string; bytes: number } | undefined> {
  const dir = uploadCacheDir();
  let made = gzipped.get(dir);
  if (made) return made;
  made = (async () => {
    const name = `deno-${deno.version}-${deno.os}-${deno.arch}-${deno.sha256.slice(0, 16)}.gz`;
    const path = `${dir}/${name}`;
    const found = await Deno.stat(path).catch(() => undefined);
    if (found?.isFile && found.size > 0) return { path, bytes: found.size };
    const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const t0 = performance.now();
      log(`compressing Deno ${deno.version} for uploads into ${dir}`);
      const src = await Deno.open(deno.path);
      const out = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
      await src.readable.pipeThrough(new CompressionStream("gzip")).pipeTo(out.writable);
      await Deno.rename(tmp, path);
      const { size } = await Deno.stat(path);
      log(`compressed Deno: ${mb(deno.bytes)} to ${mb(size)} in ${elapsed(t0)}`);
      // Older binaries' archives go (a reader that has one open keeps its copy).
      for (const e of Deno.readDirSync(dir)) {
        if (e.name !== name && /^deno-.*\.gz$/.test(e.name)) {
          await Deno.remove(`${dir}/${e.name}`).catch(() => {});
        }
      }
      return { path, bytes: size };
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      log(
        `cannot keep a compressed Deno in ${dir} (${(e as Error).message}); compressing per upload`,
      );
      gzipped.delete(dir);
      return undefined;
    }
  })();
  gzipped.set(dir, made);
  return made;
}

async function forgetGzip(path: string): Promise<void> {
  gzipped.delete(uploadCacheDir());
  await Deno.remove(path).catch(() => {});
}

function elapsed(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
