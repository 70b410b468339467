/**
 * ~/.ssh/config resolution: `ssh -G` where the ssh binary exists (it knows
 * Match, Include and every token), else the npm:ssh-config parser.
 * @module
 */
import SSHConfig from "ssh-config";
import { ConnectError } from "../errors.ts";
import { expandHome, homeDir, localUser } from "./_paths.ts";

/** What the ssh config says about a host. Only settings the config really sets are present. */
export interface SshConfigHost {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles?: string[];
  userKnownHostsFiles?: string[];
  proxyJump?: string;
  identityAgent?: string;
}

/** Options for {@linkcode resolveSshConfig}. */
export interface ResolveSshConfigOptions {
  /** Config file to read instead of ~/.ssh/config (like `ssh -F`). */
  configFile?: string;
  /** The ssh binary; null forces the built-in parser. Default: "ssh" when on PATH. */
  sshBinary?: string | null;
}

let sshOnPath: Promise<boolean> | undefined;

/** True when an `ssh` binary runs. */
export function sshBinaryAvailable(binary = "ssh"): Promise<boolean> {
  if (binary !== "ssh") return probe(binary);
  sshOnPath ??= probe("ssh");
  return sshOnPath;
}

async function probe(binary: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(binary, {
      args: ["-V"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

function parseG(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const list = out.get(key) ?? [];
    list.push(m[2]!);
    out.set(key, list);
  }
  return out;
}

// Recent `ssh -G` answers: a fan-out to many ports of one address (or one alias)
// starts one ssh process instead of one per connection (~20 ms of CPU each). An
// answer is kept 2 s at most, and not past a change of the config file.
const recentG = new Map<string, Promise<Map<string, string[]>>>();
const RECENT_G_MS = 2000;

async function configStamp(configFile: string | undefined): Promise<string> {
  try {
    const st = await Deno.stat(configFile ?? `${homeDir()}/.ssh/config`);
    return `${st.mtime?.getTime()}:${st.size}:${st.ino}`;
  } catch {
    return "-";
  }
}

async function sshG(
  binary: string,
  host: string,
  configFile: string | undefined,
): Promise<Map<string, string[]>> {
  const stamp = await configStamp(configFile);
  const key = `${binary}\0${host}\0${configFile ?? ""}\0${stamp}`;
  let p = recentG.get(key);
  if (!p) {
    p = runSshG(binary, host, configFile);
    recentG.set(key, p);
    const forget = () => {
      const t = setTimeout(() => {
        if (recentG.get(key) === p) recentG.delete(key);
      }, RECENT_G_MS);
      Deno.unrefTimer(t);
    };
    p.then(forget, () => recentG.delete(key));
  }
  return await p;
}

async function runSshG(
  binary: string,
  host: string,
  configFile: string | undefined,
): Promise<Map<string, string[]>> {
  const args = ["-G"];
  if (configFile !== undefined) args.push("-F", configFile);
  args.push("--", host);
  const out = await new Deno.Command(binary, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (out.code !== 0) {
    const err = new TextDecoder().decode(out.stderr).split("\n").filter((l) =>
      l && !l.startsWith("Pseudo-terminal")
    );
    throw new ConnectError(
      `cannot resolve ssh config for "${host}": ${err.at(-1) ?? `ssh -G exited ${out.code}`}`,
    );
  }
  return parseG(new TextDecoder().decode(out.stdout));
}

let baseline: Promise<Map<string, string[]>> | undefined;

function expandTokens(path: string, host: string, user: string, port: number): string {
  const home = homeDir();
  const replaced = path.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case "d":
        return home;
      case "u":
        return localUser();
      case "h":
        return host;
      case "r":
        return user;
      case "p":
        return String(port);
      case "%":
        return "%";
      default:
        return all;
    }
  });
  return expandHome(replaced);
}

function same(a: string[] | undefined, b: string[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

// OpenSSH reads ~/.ssh/config from the passwd entry's home, not $HOME: when $HOME
// points elsewhere (tests, containers, sudo -E), name the file it means explicitly.
async function homeConfigIfMoved(): Promise<string | undefined> {
  const home = homeDir();
  const path = `${home}/.ssh/config`;
  try {
    await Deno.stat(path);
  } catch {
    return undefined;
  }
  const uid = Deno.uid();
  try {
    const passwd = await Deno.readTextFile("/etc/passwd");
    const entry = passwd.split("\n").map((l) => l.split(":")).find((f) => f[2] === String(uid));
    if (entry && entry[5] === home) return undefined;
  } catch { /* no /etc/passwd: name the file to be safe */ }
  return path;
}

/**
 * Resolves an ssh config alias. Settings equal to OpenSSH's built-in defaults
 * are left out, so callers can tell "set by the config" from "default".
 */
export async function resolveSshConfig(
  host: string,
  options: ResolveSshConfigOptions = {},
): Promise<SshConfigHost> {
  const configFile = options.configFile === undefined ? undefined : expandHome(options.configFile);
  if (configFile !== undefined) {
    try {
      await Deno.stat(configFile);
    } catch (e) {
      throw new ConnectError(
        `cannot read ssh config file ${configFile}: ${(e as Error).message.split("\n")[0]}`,
        { cause: e },
      );
    }
  }
  const binary = options.sshBinary === undefined ? "ssh" : options.sshBinary;
  if (binary !== null && await sshBinaryAvailable(binary)) {
    return await resolveWithSshG(binary, host, configFile ?? await homeConfigIfMoved());
  }
  return await resolveWithParser(host, configFile);
}

async function resolveWithSshG(
  binary: string,
  host: string,
  configFile: string | undefined,
): Promise<SshConfigHost> {
  baseline ??= sshG(binary, "fusion-baseline.invalid", "/dev/null");
  const [g, base] = await Promise.all([sshG(binary, host, configFile), baseline]);
  const out: SshConfigHost = {};
  const hostName = g.get("hostname")?.[0];
  if (hostName && hostName !== host) out.hostName = hostName;
  const user = g.get("user")?.[0];
  if (user && user !== base.get("user")?.[0]) out.user = user;
  const port = Number(g.get("port")?.[0] ?? 22);
  if (port !== 22) out.port = port;
  const ids = g.get("identityfile");
  if (ids && !same(ids, base.get("identityfile"))) {
    out.identityFiles = ids.map((p) =>
      expandTokens(p, hostName ?? host, user ?? localUser(), port)
    );
  }
  const kh = g.get("userknownhostsfile")?.[0]?.split(/\s+/);
  if (kh && !same(kh, base.get("userknownhostsfile")?.[0]?.split(/\s+/))) {
    out.userKnownHostsFiles = kh.map((p) =>
      expandTokens(p, hostName ?? host, user ?? localUser(), port)
    );
  }
  const jump = g.get("proxyjump")?.[0];
  if (jump && jump !== "none") out.proxyJump = jump;
  const agent = g.get("identityagent")?.[0];
  if (agent && agent !== "SSH_AUTH_SOCK" && agent !== "none") out.identityAgent = expandHome(agent);
  return out;
}

async function resolveWithParser(
  host: string,
  configFile: string | undefined,
): Promise<SshConfigHost> {
  const path = configFile ?? `${homeDir()}/.ssh/config`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (configFile === undefined && e instanceof Deno.errors.NotFound) return {};
    throw new ConnectError(
      `cannot read ssh config file ${path}: ${(e as Error).message.split("\n")[0]}`,
      { cause: e },
    );
  }
  let computed: Record<string, string | string[]>;
  try {
    computed = SSHConfig.parse(text).compute(host);
  } catch (e) {
    throw new ConnectError(`cannot parse ssh config file ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const get = (k: string): string[] | undefined => {
    const entry = Object.entries(computed).find(([key]) => key.toLowerCase() === k);
    if (!entry) return undefined;
    return Array.isArray(entry[1]) ? entry[1] : [entry[1]];
  };
  const out: SshConfigHost = {};
  const hostName = get("hostname")?.[0]?.replace(/%h/g, host);
  if (hostName && hostName !== host) out.hostName = hostName;
  const user = get("user")?.[0];
  if (user) out.user = user;
  const portText = get("port")?.[0];
  const port = portText ? Number(portText) : 22;
  if (portText && Number.isInteger(port)) out.port = port;
  const tokenHost = hostName ?? host;
  const ids = get("identityfile");
  if (ids) {
    out.identityFiles = ids.map((p) => expandTokens(p, tokenHost, user ?? localUser(), port));
  }
  const kh = get("userknownhostsfile")?.flatMap((v) => v.split(/\s+/));
  if (kh) {
    out.userKnownHostsFiles = kh.map((p) => expandTokens(p, tokenHost, user ?? localUser(), port));
  }
  const jump = get("proxyjump")?.[0];
  if (jump && jump !== "none") out.proxyJump = jump;
  const agent = get("identityagent")?.[0];
  if (agent && agent !== "SSH_AUTH_SOCK" && agent !== "none") out.identityAgent = expandHome(agent);
  return out;
}
