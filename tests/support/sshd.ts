/**
 * Real OpenSSH sshd test hosts: each on 127.0.0.1 on a free port (or inside a
 * network namespace), with fresh host keys, a fresh user key, known_hosts files
 * (plain and hashed) and, when root, a Unix user of its own.
 * @module
 */
import type { Target } from "../../src/ssh/mod.ts";
import { freePort, isRoot, killPid, onEmergency, pidAlive, run, sleep } from "./_proc.ts";
import { generateKey, type KeyPair, type KeyType, knownHostsText } from "./keys.ts";
import {
  createTestUser,
  deleteTestUser,
  deleteTestUserSync,
  type TestUser,
  userProcesses,
  waitForNoProcesses,
  type WaitForNoProcessesOptions,
} from "./users.ts";

/** Where sshd lives. */
export const SSHD = "/usr/sbin/sshd";

/** Options for {@linkcode startSshd}. */
export interface StartSshdOptions {
  /** AllowTcpForwarding yes/no (default true). */
  forwarding?: boolean;
  /** Enables PasswordAuthentication; a string sets that password (default false). */
  password?: boolean | string;
  /** Host key types, in order (default ["ed25519", "ecdsa"]). */
  hostKeyTypes?: KeyType[];
  /** Type of the user key (default "ed25519"). */
  userKeyType?: KeyType;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** Reuse an existing user instead of creating one (it is then not deleted by stop()). */
  user?: TestUser;
  /** Run sshd inside this network namespace (used by startNetnsHost). */
  netns?: string;
  /** Address to listen on (default 127.0.0.1). */
  listenAddress?: string;
  /** Port (default: a free one on 127.0.0.1; 22 inside a namespace). */
  port?: number;
}

/** A running sshd test host. */
export interface SshdHost extends AsyncDisposable {
  /** Address sshd listens on. */
  readonly host: string;
  readonly port: number;
  /** The login user. */
  readonly user: string;
  readonly uid: number;
  readonly home: string;
  /** The user's password (only useful when password auth is on). */
  readonly password: string;
  /** The user's private key (no passphrase) and its public line. */
  readonly keyPath: string;
  readonly publicKey: string;
  /** known_hosts holding every host key, plain and hashed. */
  readonly knownHostsPath: string;
  readonly hashedKnownHostsPath: string;
  /** Host keys in the order of `hostKeyTypes`. */
  readonly hostKeys: readonly KeyPair[];
  /** key type → "SHA256:..." */
  readonly hostKeyFingerprints: Readonly<Record<string, string>>;
  /** The host's private temp directory (config, keys). */
  readonly dir: string;
  /** Pid of the listening sshd. */
  readonly pid: number;
  /** A Target reaching this host with the user key under strict host key checking. */
  target(overrides?: Partial<Target>): Target;
  /** Writes a known_hosts file holding only some host key types. */
  writeKnownHosts(path: string, options?: { types?: KeyType[]; hashed?: boolean }): Promise<string>;
  /** Adds a public key line to the authorized keys. */
  authorize(publicKey: string): Promise<void>;
  /** Pids of the per-connection sshd processes (children of the listener). */
  sessionPids(): number[];
  /** Kills every per-connection sshd process (drops all connections). */
  killSessions(): Promise<void>;
  /** The user's live processes. */
  processes(): Promise<{ pid: number; command: string }[]>;
  /** Polls until the user has no processes; returns what is left at the deadline. */
  waitForNoProcesses(
    options?: WaitForNoProcessesOptions,
  ): Promise<{ pid: number; command: string }[]>;
  /** The last lines sshd logged. */
  logs(): string;
  /** Stops sshd, kills the user's processes, deletes the user and the temp dir. */
  stop(): Promise<void>;
}

/** Pids of sshd session processes serving `user` ("sshd: user [priv]", "sshd: user@notty"). */
export function sshdSessionPidsOf(user: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replace(/\0/g, " ");
      if (cmd.startsWith(`sshd: ${user} `) || cmd.startsWith(`sshd: ${user}@`)) {
        out.push(Number(e.name));
      }
    } catch {
      // gone
    }
  }
  return out;
}

/** Children of a pid, from /proc. */
export function childPids(parent: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === parent) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}

let swept = false;
/**
 * Kills sshd listeners left by test processes that died (and their sessions,
 * also those of test users that no longer exist), and removes their dirs.
 */
function sweepStaleHosts(): void {
  if (swept) return;
  swept = true;
  try {
    const passwd = Deno.readTextFileSync("/etc/passwd");
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
        const m = /^sshd: (fusion-t[0-9a-f]{8})[ @]/.exec(cmd);
        if (m && !passwd.includes(`\n${m[1]}:`) && !passwd.startsWith(`${m[1]}:`)) {
          killPid(Number(e.name));
        }
      } catch {
        // gone
      }
    }
  } catch {
    // no /proc
  }
  for (const e of Deno.readDirSync("/tmp")) {
    const m = /^fusion-sshd-(\d+)-/.exec(e.name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const dir = `/tmp/${e.name}`;
    try {
      const pid = Number(Deno.readTextFileSync(`${dir}/sshd.pid`).trim());
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      if (cmdline.includes(dir)) {
        for (const c of childPids(pid)) killPid(c);
        killPid(pid);
      }
    } catch {
      // no pid file or process
    }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // ignore
    }
  }
}

/** Starts a real sshd test host. */
export async function startSshd(options: StartSshdOptions = {}): Promise<SshdHost> {
  sweepStaleHosts();
  if (isRoot()) await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = await Deno.makeTempDir({ prefix: `fusion-sshd-${Deno.pid}-` });
  await Deno.chmod(dir, 0o755);
  const ownsUser = options.user === undefined;
  const password = typeof options.password === "string" ? options.password : undefined;
  let user: TestUser | undefined;
  let child: Deno.ChildProcess | undefined;
  let unregister = () => {};
  const logLines: string[] = [];
  let reader: Promise<void> = Promise.resolve();
  const cleanupSync = () => {
    if (child) {
      for (const c of childPids(child.pid)) killPid(c);
      killPid(child.pid);
    }
    if (user) { for (const p of sshdSessionPidsOf(user.name)) killPid(p); }
    if (user && ownsUser) deleteTestUserSync(user);
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // ignore
    }
  };
  unregister = onEmergency(cleanupSync);
  try {
    const types = options.hostKeyTypes ?? ["ed25519", "ecdsa"];
    const [hostKeys, userKey, u] = await Promise.all([
      Promise.all(types.map((t) => generateKey(`${dir}/host_${t}`, t, { comment: "host" }))),
      generateKey(`${dir}/user_key`, options.userKeyType ?? "ed25519", { comment: "user" }),
      options.user ?? createTestUser(password === undefined ? {} : { password }),
    ]);
    user = u;
    const authorizedKeys = `${dir}/authorized_keys`;
    await Deno.writeTextFile(authorizedKeys, userKey.publicKey + "\n");
    await Deno.chmod(authorizedKeys, 0o644);
    const listen = options.listenAddress ?? "127.0.0.1";
    const configPath = `${dir}/sshd_config`;
    let port = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      port = options.port ?? (options.netns ? 22 : freePort());
      const config = [
        `Port ${port}`,
        `ListenAddress ${listen}`,
        ...hostKeys.map((k) => `HostKey ${k.path}`),
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        `AllowTcpForwarding ${options.forwarding === false ? "no" : "yes"}`,
        "UsePAM no",
        "StrictModes no",
        `PasswordAuthentication ${options.password ? "yes" : "no"}`,
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin no",
        `AllowUsers ${user.name}`,
        "MaxSessions 100",
        "MaxStartups 100:30:200",
        "X11Forwarding no",
        "PrintMotd no",
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
        ...(options.extraConfig ?? []),
      ].join("\n") + "\n";
      await Deno.writeTextFile(configPath, config);
      // setsid: sshd gets a session of its own, so a signal sent to this process group
      // never orphans its per-connection children (setsid execs in place: same pid).
      const sshdArgs = ["-D", "-e", "-f", configPath];
      const cmd = new Deno.Command("setsid", {
        args: options.netns
          ? ["ip", "netns", "exec", options.netns, SSHD, ...sshdArgs]
          : [SSHD, ...sshdArgs],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      });
      child = cmd.spawn();
      const ready = Promise.withResolvers<boolean>();
      const proc = child;
      reader = (async () => {
        let buf = "";
        for await (const chunk of proc.stderr.pipeThrough(new TextDecoderStream())) {
          buf += chunk;
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            logLines.push(line);
            if (logLines.length > 300) logLines.shift();
            if (line.includes("Server listening on")) ready.resolve(true);
          }
        }
        ready.resolve(false);
      })();
      const timer = setTimeout(() => ready.resolve(false), 10_000);
      const ok = await ready.promise;
      clearTimeout(timer);
      if (ok) break;
      killPid(child.pid);
      await child.status;
      await reader;
      child = undefined;
      const log = logLines.join("\n");
      if (!/Address already in use/.test(log) || options.port !== undefined) {
        throw new Error(`sshd did not start:\n${log}`);
      }
      logLines.length = 0;
    }
    if (!child) throw new Error(`sshd did not start:\n${logLines.join("\n")}`);
    const sshd = child;
    const theUser = user;
    const knownHostsPath = `${dir}/known_hosts`;
    const hashedKnownHostsPath = `${dir}/known_hosts_hashed`;
    const allKeys = hostKeys.map((k) => k.publicKey);
    await Deno.writeTextFile(knownHostsPath, knownHostsText(listen, port, allKeys));
    await Deno.writeTextFile(
      hashedKnownHostsPath,
      knownHostsText(listen, port, allKeys, { hashed: true }),
    );
    let stopped = false;
    const host: SshdHost = {
      host: listen,
      port,
      user: theUser.name,
      uid: theUser.uid,
      home: theUser.home,
      password: theUser.password,
      keyPath: userKey.path,
      publicKey: userKey.publicKey,
      knownHostsPath,
      hashedKnownHostsPath,
      hostKeys,
      hostKeyFingerprints: Object.fromEntries(hostKeys.map((k) => [k.type, k.fingerprint])),
      dir,
      pid: sshd.pid,
      target(overrides = {}) {
        return {
          host: listen,
          port,
          username: theUser.name,
          auth: { key: userKey.path },
          hostKeys: { policy: "strict", knownHosts: knownHostsPath },
          ...overrides,
        };
      },
      async writeKnownHosts(path, opts = {}) {
        const keys = hostKeys.filter((k) => !opts.types || opts.types.includes(k.type));
        await Deno.writeTextFile(
          path,
          knownHostsText(listen, port, keys.map((k) => k.publicKey), {
            hashed: opts.hashed ?? false,
          }),
        );
        return path;
      },
      async authorize(publicKey) {
        await Deno.writeTextFile(authorizedKeys, publicKey.trim() + "\n", { append: true });
      },
      sessionPids() {
        return childPids(sshd.pid);
      },
      async killSessions() {
        for (const pid of childPids(sshd.pid)) {
          for (const c of childPids(pid)) killPid(c);
          killPid(pid);
        }
        await sleep(10);
      },
      processes() {
        return userProcesses(theUser.name);
      },
      waitForNoProcesses(opts = {}) {
        return waitForNoProcesses(theUser.name, opts);
      },
      logs() {
        return logLines.join("\n");
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        const sessions = childPids(sshd.pid);
        killPid(sshd.pid, "SIGTERM");
        for (const pid of sessions) {
          for (const c of childPids(pid)) killPid(c);
          killPid(pid);
        }
        await sshd.status;
        // Sessions orphaned some other way (their listener killed first) go too.
        for (const pid of sshdSessionPidsOf(theUser.name)) killPid(pid);
        if (ownsUser) await deleteTestUser(theUser);
        await Promise.race([reader, sleep(2000)]);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        unregister();
      },
      [Symbol.asyncDispose]() {
        return host.stop();
      },
    };
    return host;
  } catch (e) {
    if (child) {
      killPid(child.pid);
      await child.status;
    }
    await reader.catch(() => {});
    if (user && ownsUser) await deleteTestUser(user);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    unregister();
    throw e;
  }
}

let availability: Promise<string | undefined> | undefined;

/**
 * Why no sshd test host can be started here, or undefined when one can. The
 * first call really starts (and stops) a host. When unavailable it says so
 * loudly on stderr, once.
 */
export function sshdUnavailable(): Promise<string | undefined> {
  availability ??= (async () => {
    let reason: string | undefined;
    try {
      await Deno.stat(SSHD);
      const h = await startSshd({ hostKeyTypes: ["ed25519"] });
      await h.stop();
    } catch (e) {
      reason = e instanceof Deno.errors.NotFound
        ? `${SSHD} is not installed (apt-get install openssh-server)`
        : `cannot start sshd: ${(e as Error).message}`;
    }
    if (reason) {
      console.error(`\n!!!!! SSH INTEGRATION TESTS SKIPPED: ${reason} !!!!!\n`);
    }
    return reason;
  })();
  return availability;
}

/** Makes a user key pair in `dir` (optionally with a passphrase). */
export function makeUserKey(
  path: string,
  options: { type?: KeyType; passphrase?: string } = {},
): Promise<KeyPair> {
  return generateKey(path, options.type ?? "ed25519", {
    comment: "user",
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
  });
}

/** Runs `fn` with a fresh private temp dir, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

export { run };
