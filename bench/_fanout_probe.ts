/**
 * Probe for the fan-out work: R interleaved rounds of (parallel ssh loop,
 * connect + runFun on N hosts + close), no Ansible. Prints one JSON line:
 * medians of wall, the ratio to the loop of the same round, local CPU per host,
 * and machine-wide busy CPU per host of each phase (/proc/stat, includes others' load).
 *   deno run -A bench/_fanout_probe.ts N R   (SPLIT=1: connect all, then runFun on all)
 * @module
 */
import { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import { type SshdHost, startSshd, type TestUser } from "../tests/support/mod.ts";
import { cpuMs, quantile } from "./_stats.ts";

const n = Number(Deno.args[0] ?? 10);
const rounds = Number(Deno.args[1] ?? 3);
// TRANSPORT=stdio|tunnel: the node connection over the agent's exec channel, or through tunnels.
const transport = Deno.env.get("TRANSPORT");
const transportOption: { transport?: "stdio" | "tunnel" } =
  transport === "stdio" || transport === "tunnel" ? { transport } : {};

// Markers for --cpu-prof: spin so that the profile shows where a phase starts and ends.
function markFusionStart(): void {
  const t = performance.now();
  while (performance.now() - t < 3);
}
function markFusionEnd(): void {
  const t = performance.now();
  while (performance.now() - t < 3);
}

function busyMs(): number {
  const l = Deno.readTextFileSync("/proc/stat").split("\n")[0]!.trim().split(/\s+/).slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal
  return (l[0]! + l[1]! + l[2]! + l[5]! + l[6]! + l[7]!) * 10;
}

const first = await startSshd({ hostKeyTypes: ["ed25519"] });
const user: TestUser = {
  name: first.user,
  home: first.home,
  uid: first.uid,
  password: first.password,
  created: true,
};
const hosts: SshdHost[] = [first];
while (hosts.length < n) {
  hosts.push(
    ...await Promise.all(
      Array.from(
        { length: Math.min(10, n - hosts.length) },
        () => startSshd({ hostKeyTypes: ["ed25519"], user }),
      ),
    ),
  );
}
const hub = await Node.start({ name: `probe-${crypto.randomUUID().slice(0, 6)}`, registryPort: 0 });
const script =
  hosts.map((h) =>
    `ssh -o BatchMode=yes -F /dev/null -i ${h.keyPath} -o UserKnownHostsFile=${h.knownHostsPath} ` +
    `-o StrictHostKeyChecking=yes -p ${h.port} ${h.user}@${h.host} hostname >/dev/null &`
  ).join("\n") + "\nwait\n";
const res: Record<string, number[]> = {
  loop: [],
  fusion: [],
  ratio: [],
  cpu: [],
  loopBusy: [],
  fusionBusy: [],
  cpuConnect: [],
  cpuCall: [],
  cpuClose: [],
};
try {
  await (await new NodeManager(hosts[0]!.target(), { node: hub }).connect()).close();
  for (let r = 0; r < rounds; r++) {
    let b0 = busyMs();
    let t0 = performance.now();
    const out = await new Deno.Command("bash", { args: ["-c", script], stdout: "null" }).output();
    if (!out.success) throw new Error("ssh loop failed");
    const loop = performance.now() - t0;
    res.loopBusy!.push((busyMs() - b0) / n);
    await new Promise((r) => setTimeout(r, 300));
    b0 = busyMs();
    markFusionStart();
    const c0 = cpuMs();
    t0 = performance.now();
    const split = Deno.env.get("SPLIT") === "1";
    const remotes = split
      ? await Promise.all(
        hosts.map((h) =>
          new NodeManager(h.target(), { node: hub, connectTimeoutMs: 60_000, ...transportOption })
            .connect()
        ),
      )
      : [];
    const c1 = cpuMs();
    if (split) await Promise.all(remotes.map((r) => r.runFun(() => Deno.hostname())));
    else {
      remotes.push(
        ...await Promise.all(hosts.map(async (h) => {
          const remote = await new NodeManager(h.target(), {
            node: hub,
            connectTimeoutMs: 60_000,
            ...transportOption,
          })
            .connect();
          await remote.runFun(() => Deno.hostname());
          return remote;
        })),
      );
    }
    const c2 = cpuMs();
    const fusion = performance.now() - t0;
    await Promise.all(remotes.map((x) => x.close()));
    if (split) {
      res.cpuConnect!.push((c1 - c0) / n);
      res.cpuCall!.push((c2 - c1) / n);
    }
    res.cpuClose!.push((cpuMs() - c2) / n);
    res.fusionBusy!.push((busyMs() - b0) / n);
    markFusionEnd();
    res.cpu!.push((cpuMs() - c0) / n);
    res.loop!.push(loop);
    res.fusion!.push(fusion);
    res.ratio!.push(fusion / loop);
    await new Promise((r) => setTimeout(r, 300));
  }
} finally {
  await hub.close();
  await Promise.all(hosts.slice(1).map((h) => h.stop()));
  await first.stop();
}
const med = Object.fromEntries(
  Object.entries(res).map(([k, v]) => [k, Number(quantile(v, 0.5).toFixed(3))]),
);
console.log(JSON.stringify({ n, rounds, med, all: res }));
Deno.exit(0);
