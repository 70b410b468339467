/**
 * Process helpers for the test harness: run a command, and an emergency
 * cleanup list that runs on unload and on SIGINT/SIGTERM.
 * @module
 */

/** What a finished command returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode run}. */
export interface RunOptions {
  stdin?: string | Uint8Array;
  env?: Record<string, string>;
  /** Throw when the exit code is not 0 (default true). */
  check?: boolean;
}

/** Runs a command to completion. */
export async function run(
  cmd: string,
  args: string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(
      typeof options.stdin === "string" ? new TextEncoder().encode(options.stdin) : options.stdin,
    );
    await w.close();
  }
  const out = await child.output();
  const res = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if ((options.check ?? true) && res.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${res.code}: ${res.stderr.trim()}`);
  }
  return res;
}

/** Runs a command synchronously, ignoring failures (for emergency cleanup). */
export function runSyncQuiet(cmd: string, args: string[]): void {
  try {
    new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).outputSync();
  } catch {
    // best effort
  }
}

/** Sends a signal to a pid, ignoring "no such process". */
export function killPid(pid: number, signal: Deno.Signal = "SIGKILL"): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** True when a process with this pid exists (zombies count as gone). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** True when running as root. */
export function isRoot(): boolean {
  return Deno.uid() === 0;
}

const cleanups = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const fn of [...cleanups].reverse()) {
    try {
      fn();
    } catch {
      // keep going
    }
  }
  cleanups.clear();
}

function onSigint(): void {
  console.error("fusion test harness: SIGINT, cleaning up");
  runAll();
  Deno.exit(130);
}

function onSigterm(): void {
  console.error("fusion test harness: SIGTERM, cleaning up");
  runAll();
  Deno.exit(143);
}

/**
 * Registers a synchronous cleanup that runs if the process exits or is
 * interrupted before the resource is released. Returns the unregister function.
 */
export function onEmergency(fn: () => void): () => void {
  cleanups.add(fn);
  if (!installed) {
    installed = true;
    globalThis.addEventListener("unload", runAll);
    try {
      Deno.addSignalListener("SIGINT", onSigint);
      Deno.addSignalListener("SIGTERM", onSigterm);
    } catch {
      // signals unsupported here
    }
  }
  return () => {
    cleanups.delete(fn);
    if (cleanups.size === 0 && installed) {
      installed = false;
      globalThis.removeEventListener("unload", runAll);
      try {
        Deno.removeSignalListener("SIGINT", onSigint);
        Deno.removeSignalListener("SIGTERM", onSigterm);
      } catch {
        // ignore
      }
    }
  };
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the settled outcome of `p`, or rejects when it takes over `ms`. */
export function within<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = p.then(
    (value) => ({ ok: true as const, value }),
    (error) => ({ ok: false as const, error }),
  );
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([outcome, late]).finally(() => clearTimeout(timer));
}

/** A free TCP port on 127.0.0.1 (racy by nature; callers retry on EADDRINUSE). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
