/**
 * Runs the `fusion` command as a subprocess, isolated from the user's
 * cookie, registry and ssh-agent, and writes ssh configs and inventories
 * for sshd test hosts.
 * @module
 */
import type { SshdHost } from "../../support/mod.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
const MAIN = `${ROOT}src/cli/main.ts`;

/** What a finished `fusion` run returned. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An isolated environment for `fusion` runs: its own cookie and registry port. */
export interface CliEnv {
  FUSION_COOKIE: string;
  FUSION_REGISTRY_PORT: string;
}

/** A port nothing listens on right now (bound, then closed). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A fresh cookie and registry port. */
export function cliEnv(): CliEnv {
  return {
    FUSION_COOKIE: crypto.randomUUID(),
    FUSION_REGISTRY_PORT: String(freePort()),
  };
}

function childEnv(env: CliEnv, extra: Record<string, string>): Record<string, string> {
  const base = Deno.env.toObject();
  delete base.SSH_AUTH_SOCK;
  delete base.FUSION_INVENTORY;
  return { ...base, NO_COLOR: "1", ...env, ...extra };
}

/** Builds the agent bundle when it is missing (a fresh clone). */
export async function ensureAgentBundle(): Promise<void> {
  try {
    await Deno.stat(`${ROOT}src/agent/_bundle.js`);
  } catch {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "build:agent"],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
  }
}

/** Starts `fusion args…`; the caller waits for it (or kills it by pid). */
export function spawnCli(
  args: string[],
  env: CliEnv,
  extra: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    clearEnv: true,
    env: childEnv(env, extra),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `fusion args…` to completion. */
export async function fusion(
  args: string[],
  env: CliEnv,
  extra: Record<string, string> = {},
): Promise<CliResult> {
  const out = await spawnCli(args, env, extra).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The `{ host, ok, value | error, ms }` objects of `--json`. */
export interface JsonResult {
  host: string;
  ok: boolean;
  value?: unknown;
  error?: { name: string; message: string; remoteName?: string };
  ms: number;
}

/** Parses `--json` output, saying what was printed when it is not JSON. */
export function parseJson(r: CliResult): JsonResult[] {
  try {
    return JSON.parse(r.stdout) as JsonResult[];
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
}

/** Writes an ssh config with one alias per host (`prefix0`, `prefix1`, …). */
export async function writeSshConfig(
  path: string,
  hosts: readonly SshdHost[],
  prefix = "h",
): Promise<string> {
  const text = hosts.map((h, i) =>
    [
      `Host ${prefix}${i}`,
      `  HostName ${h.host}`,
      `  Port ${h.port}`,
      `  User ${h.user}`,
      `  IdentityFile ${h.keyPath}`,
      `  UserKnownHostsFile ${h.knownHostsPath}`,
      "  IdentitiesOnly yes",
      "",
    ].join("\n")
  ).join("\n");
  await Deno.writeTextFile(path, text);
  return path;
}

/** An inventory host entry (JSON form) for a test host. */
export function inventoryHost(h: SshdHost): Record<string, unknown> {
  return {
    host: h.host,
    port: h.port,
    user: h.user,
    key: h.keyPath,
    knownHosts: h.knownHostsPath,
  };
}
