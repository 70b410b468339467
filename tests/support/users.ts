/**
 * Throwaway Unix users for test hosts, so "nothing left behind" can be checked
 * with `pgrep -u <user>`. Users carry the owning test process's pid in their
 * GECOS field; users of dead owners are swept on first use.
 * @module
 */
import { isRoot, killPid, pidAlive, run, runSyncQuiet, sleep } from "./_proc.ts";

const GECOS_PREFIX = "fusion-test owner=";

/** A test user. */
export interface TestUser {
  name: string;
  home: string;
  uid: number;
  /** The password set for it (random unless asked for). */
  password: string;
  /** False when not root: the harness then uses the current user and creates nobody. */
  created: boolean;
}

let swept = false;

/** Deletes test users (and their processes) whose owning process is gone. */
export async function sweepStaleUsers(): Promise<void> {
  if (swept || !isRoot()) return;
  swept = true;
  const passwd = await Deno.readTextFile("/etc/passwd");
  for (const line of passwd.split("\n")) {
    const [name, , , , gecos] = line.split(":");
    if (!name || !gecos?.startsWith(GECOS_PREFIX)) continue;
    const owner = Number(gecos.slice(GECOS_PREFIX.length));
    if (owner && pidAlive(owner)) continue;
    for (const pid of await userPids(name)) killPid(pid);
    await run("userdel", ["-r", "-f", name], { check: false });
  }
}

function randomHex(n: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(n)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Options for {@linkcode createTestUser}. */
export interface CreateTestUserOptions {
  /** Password to set; a random one otherwise (an account without one is locked). */
  password?: string;
}

/** Creates a user with a home directory and bash as its shell. Needs root. */
export async function createTestUser(options: CreateTestUserOptions = {}): Promise<TestUser> {
  if (!isRoot()) {
    const name = Deno.env.get("USER") ?? (await run("id", ["-un"])).stdout.trim();
    return {
      name,
      home: Deno.env.get("HOME") ?? "/",
      uid: Deno.uid() ?? 0,
      password: "",
      created: false,
    };
  }
  await sweepStaleUsers();
  const name = `fusion-t${randomHex(4)}`;
  const home = `/home/${name}`;
  await run("useradd", [
    "-m",
    "-d",
    home,
    "-s",
    "/bin/bash",
    "-c",
    `${GECOS_PREFIX}${Deno.pid}`,
    name,
  ]);
  const password = options.password ?? randomHex(12);
  await run("chpasswd", [], { stdin: `${name}:${password}\n` });
  const uid = Number((await run("id", ["-u", name])).stdout.trim());
  return { name, home, uid, password, created: true };
}

/** Kills every process of the user and deletes it with its home. */
export async function deleteTestUser(user: TestUser): Promise<void> {
  if (!user.created) return;
  for (let i = 0; i < 5; i++) {
    const pids = await userPids(user.name);
    if (pids.length === 0) break;
    for (const pid of pids) killPid(pid);
    await sleep(50);
  }
  await run("userdel", ["-r", "-f", user.name], { check: false });
}

/** Synchronous best-effort removal, for exit handlers. */
export function deleteTestUserSync(user: TestUser): void {
  if (!user.created) return;
  for (const pid of pidsOfUidSync(user.uid)) killPid(pid);
  runSyncQuiet("userdel", ["-r", "-f", user.name]);
}

/** Live (non-zombie) processes owned by the user. */
export async function userProcesses(user: string): Promise<{ pid: number; command: string }[]> {
  const res = await run("ps", ["-u", user, "-o", "pid=,stat=,args="], { check: false });
  const out: { pid: number; command: string }[] = [];
  for (const line of res.stdout.split("\n")) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m || m[2]!.startsWith("Z")) continue;
    out.push({ pid: Number(m[1]), command: m[3]! });
  }
  return out;
}

function pidsOfUidSync(uid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${e.name}/status`);
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (m && Number(m[1]) === uid) out.push(Number(e.name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function userPids(user: string): Promise<number[]> {
  return (await userProcesses(user)).map((p) => p.pid);
}

/** Options for {@linkcode waitForNoProcesses}. */
export interface WaitForNoProcessesOptions {
  /** Give up after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Pids to ignore (e.g. a session the test keeps open on purpose). */
  ignore?: number[];
  /** Only count processes whose command line contains this. */
  matching?: string;
}

/**
 * Polls until the user has no live processes (zombies ignored). Returns the
 * processes still there at the deadline: an empty array means clean.
 */
export async function waitForNoProcesses(
  user: string,
  options: WaitForNoProcessesOptions = {},
): Promise<{ pid: number; command: string }[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  const ignore = new Set(options.ignore ?? []);
  for (;;) {
    const left = (await userProcesses(user)).filter((p) =>
      !ignore.has(p.pid) && (options.matching === undefined || p.command.includes(options.matching))
    );
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(25);
  }
}
