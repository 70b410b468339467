/** Pieces both backends share: byte piping, close bookkeeping, upload over exec. */
import { Duplex, type Readable, type Writable } from "node:stream";
import { ConnectError } from "../errors.ts";
import type { ExecChannel, SshCloseInfo, UploadOptions } from "./backend.ts";
import { remotePath } from "./_paths.ts";

/** Pipes two duplexes into each other; when either ends or fails, both are destroyed. */
export function splice(a: Duplex, b: Duplex, onDone?: () => void): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
    onDone?.();
  };
  a.on("error", finish);
  b.on("error", finish);
  a.on("close", finish);
  b.on("close", finish);
  a.pipe(b);
  b.pipe(a);
}

/** The `closed` promise and `onClose` listeners of a backend. */
export class CloseSignal {
  #listeners = new Set<(info: SshCloseInfo) => void>();
  #resolve!: (info: SshCloseInfo) => void;
  #info: SshCloseInfo | undefined;
  /** Resolves once, with why the connection ended. */
  readonly promise: Promise<SshCloseInfo>;
  constructor() {
    this.promise = new Promise((r) => (this.#resolve = r));
  }
  /** True once fired. */
  get fired(): boolean {
    return this.#info !== undefined;
  }
  /** Adds a listener; a late one is called at once (in a microtask). */
  on(listener: (info: SshCloseInfo) => void): () => void {
    if (this.#info) {
      const info = this.#info;
      queueMicrotask(() => listener(info));
      return () => {};
    }
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  /** Fires once. */
  fire(info: SshCloseInfo): void {
    if (this.#info) return;
    this.#info = info;
    this.#resolve(info);
    for (const l of this.#listeners) {
      try {
        l(info);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    this.#listeners.clear();
  }
}

/** Collects a readable stream into bytes. */
export function collect(stream: Readable): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (c: Uint8Array) => chunks.push(c));
    const done = () => {
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      resolve(out);
    };
    stream.on("end", done);
    stream.on("close", done);
    stream.on("error", done);
  });
}

/** Uploads by running `cat > path` with the bytes on stdin (works on both backends, no SFTP needed). */
export async function uploadViaExec(
  exec: (command: string) => Promise<ExecChannel>,
  path: string,
  data: Uint8Array,
  options: UploadOptions = {},
): Promise<void> {
  if (path === "" || path.includes("\0")) throw new ConnectError(`invalid upload path "${path}"`);
  const mode = (options.mode ?? 0o600).toString(8);
  const p = remotePath(path);
  const ch = await exec(`umask 077 && cat > ${p} && chmod ${mode} ${p}`);
  const stderr = collect(ch.stderr);
  ch.stdout.resume();
  ch.stdin.end(data);
  const exit = await ch.exit;
  const err = new TextDecoder().decode(await stderr).trim();
  if (exit.code !== 0) {
    throw new ConnectError(
      `upload to ${path} failed (${exit.code === null ? "connection lost" : `exit ${exit.code}`})` +
        (err ? `: ${err.split("\n").slice(-3).join(" / ")}` : ""),
    );
  }
}

/**
 * Wraps a stream so writes into it and data out of it happen in a later
 * microtask. ssh2's JS chacha20-poly1305 keeps its IV in a module-wide buffer:
 * when one ssh2 connection runs inside another (ProxyJump), the inner one's
 * write would re-enter the outer one's encryption mid-packet and corrupt it.
 */
export function decoupled(inner: Duplex): Duplex {
  const outer = new Duplex({
    write(chunk: Uint8Array, _enc, cb) {
      queueMicrotask(() => {
        if (inner.destroyed) return cb();
        if (inner.write(chunk)) cb();
        else inner.once("drain", () => cb());
      });
    },
    final(cb) {
      queueMicrotask(() => {
        inner.end();
        cb();
      });
    },
    read() {
      inner.resume();
    },
    destroy(err, cb) {
      inner.destroy();
      cb(err);
    },
  });
  inner.on("data", (c: Uint8Array) => {
    queueMicrotask(() => {
      if (!outer.push(c)) inner.pause();
    });
  });
  inner.on("end", () => queueMicrotask(() => outer.push(null)));
  inner.on("error", (e: Error) => queueMicrotask(() => outer.destroy(e)));
  inner.on("close", () => queueMicrotask(() => outer.destroy()));
  return outer;
}

/**
 * Joins a readable and a writable into one Duplex that starts reading the
 * readable only when the Duplex itself is read. Until then the readable can be
 * used directly (merely touching `duplex`, e.g. to add an error handler, takes
 * nothing from it).
 */
export function joinStreams(readable: Readable, writable: Writable): Duplex {
  let attached = false;
  const d: Duplex = new Duplex({
    read() {
      if (attached) {
        readable.resume();
        return;
      }
      attached = true;
      readable.on("data", (c: Uint8Array) => {
        if (!d.push(c)) readable.pause();
      });
      readable.once("end", () => d.push(null));
    },
    write(chunk: Uint8Array, _enc, cb) {
      writable.write(chunk, (err) => cb(err ?? null));
    },
    final(cb) {
      writable.end(() => cb());
    },
    destroy(err, cb) {
      readable.destroy();
      writable.destroy();
      cb(err);
    },
  });
  return d;
}
