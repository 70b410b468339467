/**
 * Fan-out: `runFun` on N sshd hosts at once (one shared throwaway user, one sshd
 * per host on its own port), against a parallel `ssh HOST hostname` shell loop
 * and, when installed, `ansible all -m command -a hostname -f N`.
 * @module
 */
import { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import type { RemoteNode } from "../src/remote/remote_node.ts";
import { type SshdHost, startSshd, type TestUser } from "../tests/support/mod.ts";
import type { BenchRow } from "./_row.ts";
import { childCpuMs, cpuMs, quantile, rssMiB } from "./_stats.ts";

/** A row as main.ts prints it. */
export type FanOutRow = BenchRow;

/** Options for {@linkcode runFanOut}. */
export interface FanOutOptions {
  quick: boolean;
}

async function startHosts(n: number): Promise<SshdHost[]> {
  const first = await startSshd({ hostKeyTypes: ["ed25519"] });
  const user: TestUser = {
    name: first.user,
    home: first.home,
    uid: first.uid,
    password: first.password,
    created: true,
  };
  const hosts = [first];
  try {
    while (hosts.length < n) {
      const batch = Math.min(10, n - hosts.length);
      hosts.push(
        ...await Promise.all(
          Array.from({ length: batch }, () => startSshd({ hostKeyTypes: ["ed25519"], user })),
        ),
      );
    }
  } catch (e) {
    await stopHosts(hosts);
    throw e;
  }
  return hosts;
}

async function stopHosts(hosts: SshdHost[]): Promise<void> {
  // The first host owns the shared user: stop it last.
  await Promise.all(hosts.slice(1).map((h) => h.stop()));
  await hosts[0]?.stop();
}

function sshLine(h: SshdHost): string {
  return [
    "ssh -o BatchMode=yes -F /dev/null",
    `-i ${h.keyPath}`,
    `-o UserKnownHostsFile=${h.knownHostsPath} -o StrictHostKeyChecking=yes`,
    `-p ${h.port} ${h.user}@${h.host} hostname >/dev/null &`,
  ].join(" ");
}

async function timed(cmd: string, args: string[], env: Record<string, string> = {}) {
  const c0 = childCpuMs();
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const ms = performance.now() - t0;
  return {
    ms,
    cpu: childCpuMs() - c0,
    ok: out.success,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

async function hasCommand(name: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${name}`], stdout: "null" })
    .output();
  return r.success;
}

/** Runs the fan-out at `n` hosts and returns its rows. */
export async function runFanOut(n: number, options: FanOutOptions): Promise<FanOutRow[]> {
  const runs = options.quick ? 1 : n <= 1 ? 5 : n <= 10 ? 3 : 2;
  const t = performance.now();
  const hosts = await startHosts(n);
  console.error(`  ${n} sshd hosts up in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const rows: FanOutRow[] = [];
  const hub = await Node.start({ name: `fan-${crypto.randomUUID().slice(0, 6)}`, registryPort: 0 });
  try {
    // The agent is cached in the shared home from here on: these are warm connects.
    await (await new NodeManager(hosts[0]!.target(), { node: hub }).connect()).close();
    const script = `${hosts.map(sshLine).join("\n")}\nwait\n`;
    const loop: number[] = [];
    const loopCpu: number[] = [];
    const fusion: number[] = [];
    const fusionAll: number[] = [];
    const fusionCpu: number[] = [];
    let rssConnected = NaN;
    const failures: string[] = [];
    const perHost: number[] = [];
    const rss0 = rssMiB();
    for (let r = 0; r < runs; r++) {
      const l = await timed("bash", ["-c", script]);
      if (!l.ok) throw new Error(`ssh loop failed: ${l.stderr}`);
      loop.push(l.ms);
      loopCpu.push(l.cpu / n);

      const c0 = cpuMs();
      const t0 = performance.now();
      const outcomes = await Promise.allSettled(hosts.map(async (h) => {
        const steps: string[] = [];
        const ts = performance.now();
        const manager = new NodeManager(h.target(), {
          node: hub,
          connectTimeoutMs: 60_000,
          log: (line) => {
            const m = /^\[fusion [^\]]*\] ([a-z ]+) \((\d+) ms\)$/.exec(line);
            if (m) steps.push(`${m[1]}@${m[2]}`);
          },
        });
        try {
          const remote = await manager.connect();
          await remote.runFun(() => Deno.hostname());
          return { remote, ms: performance.now() - ts };
        } catch (e) {
          throw new Error(`${(e as Error).message} [${steps.join(" ")}]`, { cause: e });
        }
      }));
      fusion.push(performance.now() - t0);
      const remotes = outcomes.flatMap((o) => o.status === "fulfilled" ? [o.value.remote] : []);
      const each = outcomes.flatMap((o) => o.status === "fulfilled" ? [o.value.ms] : []);
      for (const o of outcomes) {
        if (o.status === "rejected") failures.push(String((o.reason as Error).message));
      }
      perHost.push(...each);
      if (r === 0) rssConnected = rssMiB();
      await Promise.all(remotes.map((rn: RemoteNode) => rn.close()));
      fusionAll.push(performance.now() - t0);
      fusionCpu.push((cpuMs() - c0) / n);
    }
    const med = (xs: number[]) => quantile(xs, 0.5);
    const f = med(fusion);
    const base = med(loop);
    rows.push({
      section: "fan-out",
      case: `runFun on ${n} host${n === 1 ? "" : "s"}: wall to all results`,
      fusion: f,
      unit: "ms",
      baseline: { name: "parallel ssh hostname loop", value: base },
      ratio: f / base,
      ...(n >= 10 ? { target: "≤ 1.0× ssh loop", met: f <= base } : {}),
      ...(failures.length ? { note: `${failures.length} connect(s) failed` } : {}),
      detail: {
        runs: fusion,
        loopRuns: loop,
        withDisconnect: fusionAll,
        perHostP50: quantile(perHost, 0.5),
        perHostMax: Math.max(...perHost),
        failures,
      },
    });
    for (const f of failures.slice(0, 3)) console.error(`  failed: ${f}`);
    const cpu = med(fusionCpu);
    rows.push({
      section: "fan-out",
      case: `  local CPU per host (${n})`,
      fusion: cpu,
      unit: "ms",
      baseline: { name: "ssh processes' CPU per host", value: med(loopCpu) },
      ratio: cpu / med(loopCpu),
      target: "≤ 20 ms",
      met: cpu <= 20,
      note: "connect + runFun + disconnect",
    });
    if (await hasCommand("ansible")) {
      const ansible = await runAnsible(hosts, n);
      if (ansible) {
        rows.push({
          section: "fan-out",
          case: `  vs Ansible (${n})`,
          fusion: f,
          unit: "ms",
          baseline: { name: "ansible -m command -a hostname", value: ansible.ms },
          ratio: f / ansible.ms,
          ...(n >= 10 ? { target: "≤ 0.2× Ansible", met: f * 5 <= ansible.ms } : {}),
          detail: { ansibleCpuPerHost: ansible.cpu / n },
        });
      }
    } else {
      console.error("  Ansible not installed (apt-get install ansible-core): skipped");
    }
    if (n >= 10) {
      rows.push({
        section: "memory",
        case: `local RSS with ${n} remote nodes connected`,
        fusion: rssConnected,
        unit: "MiB",
        note: `a fresh process: ${rss0.toFixed(0)} MiB before connecting, ${
          ((rssConnected - rss0) / n).toFixed(1)
        } MiB per node`,
      });
    }
  } finally {
    await hub.close();
    await stopHosts(hosts);
  }
  return rows;
}

async function runAnsible(hosts: SshdHost[], n: number) {
  const dir = await Deno.makeTempDir({ prefix: "fusion-bench-ansible-" });
  try {
    const inv = hosts.map((h, i) =>
      `h${i} ansible_host=${h.host} ansible_port=${h.port} ansible_user=${h.user} ` +
      `ansible_ssh_private_key_file=${h.keyPath} ansible_python_interpreter=/usr/bin/python3 ` +
      `ansible_ssh_common_args="-F /dev/null -o UserKnownHostsFile=${h.knownHostsPath} -o StrictHostKeyChecking=yes"`
    ).join("\n");
    await Deno.writeTextFile(`${dir}/hosts`, `[all]\n${inv}\n`);
    const r = await timed("ansible", [
      "all",
      "-i",
      `${dir}/hosts`,
      "-m",
      "command",
      "-a",
      "hostname",
      "-f",
      String(n),
    ], {
      ANSIBLE_LOCAL_TEMP: `${dir}/tmp`,
      ANSIBLE_SSH_CONTROL_PATH_DIR: `${dir}/cp`,
      ANSIBLE_NOCOLOR: "1",
    });
    if (!r.ok) {
      console.error(`  ansible failed:\n${r.stdout.slice(0, 2000)}${r.stderr.slice(0, 2000)}`);
      return undefined;
    }
    return r;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// Run alone (main.ts does, so that each fan-out is a fresh process): prints its rows as JSON.
if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 10);
  const rows = await runFanOut(n, { quick: Deno.args.includes("--quick") });
  console.log(JSON.stringify(rows));
  Deno.exit(0);
}
