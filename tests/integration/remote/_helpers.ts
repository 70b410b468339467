/** Shared bits of the NodeManager integration tests (real OpenSSH sshd). */
import assert from "node:assert/strict";
import { Node } from "../../../src/node.ts";
import type { SshBackendKind } from "../../../src/ssh/mod.ts";
import {
  childPids,
  type SshdHost,
  sshdUnavailable,
  startSshd,
  type StartSshdOptions,
} from "../../support/mod.ts";

/** Both backends, in the order tests run them. */
export const BACKENDS: readonly SshBackendKind[] = ["ssh2", "system"];

/** Why these tests are skipped, or undefined (printed loudly by sshdUnavailable). */
export const unavailable = await sshdUnavailable();

/** What a host test gets. */
export interface HostTestContext {
  host: SshdHost;
  /** A fresh local hub node (its own registry on a kernel-chosen port). */
  hub: Node;
  t: Deno.TestContext;
}

/** Options for {@linkcode hostTest}. */
export interface HostTestOptions {
  /** For startSshd. */
  sshd?: StartSshdOptions;
  /** Hub tick timeout (default 60 000 ms). */
  tickTimeoutMs?: number;
  /** The whole test fails after this long (default 60 000 ms). */
  deadlineMs?: number;
  /** Or a host made elsewhere (e.g. in a network namespace); stopped afterwards all the same. */
  startHost?: () => Promise<SshdHost>;
  ignore?: boolean;
}

/**
 * A test with its own sshd host and hub node, failed after a deadline, and
 * whose host (with its user and every process of that user) and hub are
 * taken down whatever happens.
 */
export function hostTest(
  name: string,
  options: HostTestOptions,
  fn: (c: HostTestContext) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: unavailable !== undefined || (options.ignore ?? false),
    // ssh2 and sshd leave timers and sockets that end shortly after the test.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const host = await (options.startHost ?? (() => startSshd(options.sshd ?? {})))();
      let hub: Node | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        hub = await Node.start({
          name: `hub-${randomHex(3)}`,
          registryPort: 0,
          ...(options.tickTimeoutMs ? { tickTimeoutMs: options.tickTimeoutMs } : {}),
        });
        const deadlineMs = options.deadlineMs ?? 60_000;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`test took over ${deadlineMs} ms`)),
            deadlineMs,
          );
        });
        await Promise.race([fn({ host, hub, t }), deadline]);
      } finally {
        clearTimeout(timer);
        await hub?.close();
        await host.stop();
      }
    },
  });
}

/** TCP listeners of this process, as "addr:port" (from `ss -ltnp`). */
export async function localListeners(): Promise<Set<string>> {
  const out = await new Deno.Command("ss", { args: ["-ltnpH"], stdout: "piped", stderr: "null" })
    .output();
  const set = new Set<string>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!line.includes(`pid=${Deno.pid},`)) continue;
    const local = line.trim().split(/\s+/)[3];
    if (local) set.add(local);
  }
  return set;
}

/** Live (non-zombie) descendants of `root` (default this process), except the given pids and theirs. */
export function localDescendants(
  except: number[] = [],
  root = Deno.pid,
): { pid: number; cmd: string }[] {
  const skip = new Set(except);
  const out: { pid: number; cmd: string }[] = [];
  const walk = (pid: number) => {
    for (const c of childPids(pid)) {
      if (skip.has(c)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${c}/stat`);
        if ("ZX".includes(stat.slice(stat.lastIndexOf(")") + 2)[0] ?? "")) continue;
        const cmd = Deno.readTextFileSync(`/proc/${c}/cmdline`).replaceAll("\0", " ").trim();
        out.push({ pid: c, cmd });
      } catch {
        continue; // gone
      }
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** Polls `check` until it returns an empty array or the deadline passes; returns the last. */
export async function settle<T>(check: () => T[] | Promise<T[]>, timeoutMs = 5000): Promise<T[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = await check();
    if (left.length === 0 || Date.now() >= end) return left;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Asserts that nothing of a connection is left: no process of the host's
 * user, no local listener beyond `listenersBefore`, no local child process
 * (ssh masters and their watchdogs) other than the sshd listeners.
 */
export async function assertNothingLeft(
  host: SshdHost,
  listenersBefore: Set<string>,
  options: { sshdPids?: number[]; timeoutMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  assert.deepEqual(
    await host.waitForNoProcesses({ timeoutMs }),
    [],
    "processes left on the server",
  );
  const extra = await settle(async () => {
    const now = await localListeners();
    return [...now].filter((l) => !listenersBefore.has(l));
  }, timeoutMs);
  assert.deepEqual(extra, [], "local listeners left");
  const children = await settle(
    () => localDescendants([host.pid, ...(options.sshdPids ?? [])]),
    timeoutMs,
  );
  assert.deepEqual(children, [], "local child processes left");
}

/** Random hex. */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** Pids of the host user's processes whose command line contains `needle`. */
export async function userPidsMatching(host: SshdHost, needle: string): Promise<number[]> {
  return (await host.processes()).filter((p) => p.command.includes(needle)).map((p) => p.pid);
}
