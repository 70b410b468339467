import { FRAME_MAGIC, isolateMainUrl } from "./_isolate_source.ts";
import { type NormalizedPermissions, permissionFlags } from "./isolate_permissions.ts";

// node:v8 pulls in Node's compat layer (~30 ms of CPU): loaded only when a sandbox starts.
let v8: Promise<typeof import("node:v8")> | undefined;
function loadV8(): Promise<typeof import("node:v8")> {
  return v8 ??= import("node:v8");
}

/** One call into a sandbox: an export by name, or a function by its source. */
export type IsolateRequest =
  | { fn: string; args: unknown[] }
  | { source: string; args: unknown[] };

/** Options for {@linkcode IsolateProcess}. */
export interface IsolateProcessOptions {
  /** The bundle whose exports the sandbox serves; none for functions shipped by source. */
  modulePath?: string;
  /** Exactly what the sandbox may do. */
  permissions: NormalizedPermissions;
  /** The Deno to run (default: the one running the agent). */
  execPath?: string;
}

/** Bytes of a sandbox's stderr kept to explain why it died. */
const STDERR_TAIL = 4096;
// Deno colours some error text even on a pipe.
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void };
type Answer = { id?: number; ok?: boolean; value?: unknown; error?: unknown; load?: unknown };

/**
 * A sandbox: a Deno process started with exactly the call's permissions,
 * serving calls over its stdin/stdout. Unlike a Worker it can always be
 * stopped: Deno 2.9 cannot terminate a Worker stuck in a CPU loop (the thread
 * keeps spinning after `terminate()`), a process can be killed.
 */
export class IsolateProcess {
  /** The sandbox's process id. */
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #dead: Error | undefined;
  #stderrTail = "";

  constructor(options: IsolateProcessOptions) {
    this.#child = new Deno.Command(options.execPath ?? Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--no-prompt",
        "--quiet",
        ...permissionFlags(options.permissions),
        isolateMainUrl(options.modulePath),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    this.#writer = this.#child.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    const out = this.#readFrames();
    const err = this.#forwardStderr();
    this.exited = this.#child.status.then(async (status) => {
      await Promise.allSettled([out, err]);
      const tail = this.#stderrTail.replace(ANSI, "").trim();
      this.#fail(
        new Error(
          `the sandbox process exited (${
            status.signal ? `signal ${status.signal}` : `code ${status.code}`
          }) before answering${tail ? `; its last output: ${tail}` : ""}`,
        ),
      );
      return status;
    });
  }

  /** True until the process exits or is killed. */
  get alive(): boolean {
    return this.#dead === undefined;
  }

  /** Calls into the sandbox; one call at a time is what the pool gives it. */
  call(request: IsolateRequest): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    return loadV8().then(({ serialize }) => this.#call(serialize, request));
  }

  #call(serialize: (value: unknown) => Uint8Array, request: IsolateRequest): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    const body = serialize({ id, ...request });
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#writer.write(frame).catch(() => {/* the exit rejects the call */});
    });
  }

  /** Kills the process (SIGKILL): whatever it runs stops now. Pending calls reject with `reason`. */
  kill(reason: Error = new Error("the sandbox process was killed")): void {
    this.#fail(reason);
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
  }

  #fail(reason: Error): void {
    this.#dead ??= reason;
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
  }

  #settle(msg: Answer): void {
    if (msg.load !== undefined) return this.#fail(toError(msg.load));
    const p = this.#pending.get(msg.id ?? -1);
    if (!p) return;
    this.#pending.delete(msg.id!);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(toError(msg.error));
  }

  async #readFrames(): Promise<void> {
    const { deserialize } = await loadV8();
    let buf: Uint8Array = new Uint8Array(0);
    for await (const chunk of this.#child.stdout) {
      buf = buf.length ? concat(buf, chunk) : chunk;
      for (;;) {
        // Bytes before the magic are user code writing to stdout directly: pass them on.
        const start = findMagic(buf);
        if (start !== 0) {
          const stray = start < 0 ? buf.length : start;
          await writeAll(Deno.stderr, buf.subarray(0, stray));
          buf = buf.subarray(stray);
          if (start < 0) break;
        }
        if (buf.length < 8) break;
        const n = new DataView(buf.buffer, buf.byteOffset).getUint32(4);
        if (buf.length < 8 + n) break;
        let msg: Answer;
        try {
          msg = deserialize(buf.subarray(8, 8 + n));
        } catch (e) {
          this.kill(new Error(`the sandbox sent an unreadable answer: ${(e as Error).message}`));
          return;
        }
        buf = buf.subarray(8 + n);
        this.#settle(msg);
      }
    }
  }

  async #forwardStderr(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderrTail = (this.#stderrTail + dec.decode(chunk, { stream: true })).slice(
        -STDERR_TAIL,
      );
      await writeAll(Deno.stderr, chunk);
    }
  }
}

function toError(e: unknown): Error {
  const f = (e ?? {}) as { name?: unknown; message?: unknown; stack?: unknown };
  const name = typeof f.name === "string" ? f.name : "Error";
  const err = new Error(
    denoHint(name, typeof f.message === "string" ? f.message : String(e)),
  );
  err.name = name;
  err.stack = typeof f.stack === "string" && f.stack
    ? denoHint(name, f.stack.replace(ANSI, ""))
    : `${name}: ${err.message}`;
  return err;
}

// Deno tells a denied sandbox to "run again with the --allow-read flag": say which option grants it.
function denoHint(name: string, text: string): string {
  if (name !== "NotCapable") return text;
  return text.replace(
    /, run again with the --allow-(\w+) flag/,
    (_, kind) => `: not granted by this isolated call's permissions (permissions.${kind})`,
  );
}

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  try {
    for (let off = 0; off < bytes.length;) off += await w.write(bytes.subarray(off));
  } catch { /* stderr gone: nobody to tell */ }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// Index of the first (possibly partial, at the end) frame magic, or -1.
function findMagic(buf: Uint8Array): number {
  const m = FRAME_MAGIC;
  outer: for (let i = 0; i < buf.length; i++) {
    for (let j = 0; j < m.length && i + j < buf.length; j++) {
      if (buf[i + j] !== m[j]) continue outer;
    }
    return i;
  }
  return -1;
}
