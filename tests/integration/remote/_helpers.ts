/** Shared bits of the NodeManager integration tests (real OpenSSH sshd). */
import assert from "node:assert/strict";
import type { SshBackendKind } from "../../../src/ssh/mod.ts";
import { childPids, type SshdHost } from "../../support/mod.ts";

/** Both backends, in the order tests run them. */
export const BACKENDS: readonly SshBackendKind[] = ["ssh2", "system"];

export {
  hostTest,
  type HostTestContext,
  type HostTestOptions,
  unavailable,
} from "../../support/host_test.ts";

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
