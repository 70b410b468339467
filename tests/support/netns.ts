/**
 * Test hosts in network namespaces: `ip netns add fusion-<pid>-<n>`, a veth
 * pair with 10.231.x.1/30 outside and 10.231.x.2/30 inside, and sshd on port 22
 * inside. Needs root. Namespaces of test processes that died are swept.
 * @module
 */
import { isRoot, killPid, onEmergency, pidAlive, run, runSyncQuiet } from "./_proc.ts";
import { type SshdHost, startSshd, type StartSshdOptions } from "./sshd.ts";

/** An sshd host inside its own network namespace. */
export interface NetnsHost extends SshdHost {
  /** The namespace's name. */
  readonly netns: string;
  /** The address on this side of the veth pair. */
  readonly outsideAddress: string;
  /** Runs a command inside the namespace (as root). */
  execInNetns(
    cmd: string,
    args: string[],
  ): Promise<{ code: number; stdout: string; stderr: string }>;
}

let counter = 0;
let swept = false;

/** Deletes fusion-<pid>-* namespaces whose owner is gone (killing what runs inside, by pid). */
export async function sweepStaleNamespaces(): Promise<void> {
  if (swept || !isRoot()) return;
  swept = true;
  const list = await run("ip", ["netns", "list"], { check: false });
  for (const line of list.stdout.split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    const m = /^fusion-(\d+)-\d+$/.exec(name);
    if (!m || pidAlive(Number(m[1]))) continue;
    const pids = await run("ip", ["netns", "pids", name], { check: false });
    for (const p of pids.stdout.split(/\s+/).filter(Boolean)) killPid(Number(p));
    await run("ip", ["netns", "del", name], { check: false });
  }
}

/** Why namespace hosts cannot run here, or undefined. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (!isRoot()) return "not root";
  const probe = await run("ip", ["netns", "list"], { check: false }).catch((e) => ({
    code: 1,
    stdout: "",
    stderr: String(e),
  }));
  return probe.code === 0 ? undefined : `ip netns unusable: ${probe.stderr.trim()}`;
}

async function pickSubnet(): Promise<number> {
  const addrs = (await run("ip", ["-o", "-4", "addr"], { check: false })).stdout;
  for (let i = 0; i < 50; i++) {
    const k = 1 + Math.floor(Math.random() * 250);
    if (!addrs.includes(`10.231.${k}.`)) return k;
  }
  throw new Error("no free 10.231.x.0/30 subnet");
}

/** Starts an sshd host inside a fresh network namespace. Needs root. */
export async function startNetnsHost(options: StartSshdOptions = {}): Promise<NetnsHost> {
  if (!isRoot()) throw new Error("network namespace hosts need root");
  await sweepStaleNamespaces();
  const netns = `fusion-${Deno.pid}-${++counter}`;
  const tag = crypto.getRandomValues(new Uint8Array(3)).reduce(
    (s, b) => s + b.toString(16).padStart(2, "0"),
    "",
  );
  const outside = `fz${tag}a`;
  const inside = `fz${tag}b`;
  const k = await pickSubnet();
  const outsideAddress = `10.231.${k}.1`;
  const insideAddress = `10.231.${k}.2`;
  const del = () => runSyncQuiet("ip", ["netns", "del", netns]);
  const unregister = onEmergency(del);
  try {
    await run("ip", ["netns", "add", netns]);
    await run("ip", [
      "link",
      "add",
      outside,
      "type",
      "veth",
      "peer",
      "name",
      inside,
      "netns",
      netns,
    ]);
    await run("ip", ["addr", "add", `${outsideAddress}/30`, "dev", outside]);
    await run("ip", ["link", "set", outside, "up"]);
    await run("ip", ["-n", netns, "addr", "add", `${insideAddress}/30`, "dev", inside]);
    await run("ip", ["-n", netns, "link", "set", inside, "up"]);
    await run("ip", ["-n", netns, "link", "set", "lo", "up"]);
    const host = await startSshd({ ...options, netns, listenAddress: insideAddress, port: 22 });
    const stopSshd = host.stop.bind(host);
    const netHost: NetnsHost = Object.assign(host, {
      netns,
      outsideAddress,
      execInNetns(cmd: string, args: string[]) {
        return run("ip", ["netns", "exec", netns, cmd, ...args], { check: false });
      },
      async stop() {
        await stopSshd();
        const pids = await run("ip", ["netns", "pids", netns], { check: false });
        for (const p of pids.stdout.split(/\s+/).filter(Boolean)) killPid(Number(p));
        await run("ip", ["netns", "del", netns], { check: false });
        await run("ip", ["link", "del", outside], { check: false });
        unregister();
      },
    });
    netHost[Symbol.asyncDispose] = () => netHost.stop();
    return netHost;
  } catch (e) {
    await run("ip", ["netns", "del", netns], { check: false });
    await run("ip", ["link", "del", outside], { check: false });
    unregister();
    throw e;
  }
}
