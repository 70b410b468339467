/**
 * `deno task bench`: Fusion against what users would use instead, each figure
 * with its baseline measured in the same run, on real OpenSSH sshd hosts on
 * 127.0.0.1 (the test harness). Prints a table and writes bench/results/latest.json.
 *
 *   deno task bench                  everything, fan-out to 1, 10 and 50 hosts (~3-5 min)
 *   deno task bench --hosts=1,10     fewer fan-out sizes
 *   deno task bench --quick          tiny sizes: a smoke run that only proves it still works
 *   deno task bench --only=connect,calls,messages,push,fanout,rivals,isolation,zeroinstall,supervisor
 *   deno task bench --out=FILE       where the JSON goes
 *   deno task bench --table[=FILE]   re-prints the table of a JSON file (default the latest)
 *
 * Needs root (the harness creates throwaway users) and /usr/sbin/sshd. It installs
 * nothing: rivals (Ansible, execnet, Mitogen, Erlang) are measured when present.
 * @module
 */
import { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import type { RemoteNode } from "../src/remote/remote_node.ts";
import { Codec } from "../src/wire/codec.ts";
import { Pid } from "../src/wire/pid.ts";
import { type SshdHost, startSshd } from "../tests/support/mod.ts";
import { rawPingPong, rawSink, RawTunnel } from "./_raw.ts";
import { makePushFixture } from "./_push_fixture.ts";
import { runRivals } from "./_rivals.ts";
import { benchIsolation } from "./_isolate.ts";
import { type BenchRow, type Report, sshArgs } from "./_row.ts";
import { benchSupervisor } from "./_supervisor.ts";
import { benchZeroInstall } from "./_zero_install.ts";
import { cpuMs, fmt, quantile, rssMiB, summarize, type Summary } from "./_stats.ts";

// ---- options ----------------------------------------------------------------

const args = new Map(
  Deno.args.map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1]!, m[2] ?? "true"] as const;
  }),
);
const QUICK = args.has("quick");
const ONLY = args.get("only")?.split(",");
const HOSTS = (args.get("hosts") ?? (QUICK ? "1,2" : "1,10,50")).split(",").map(Number);
const OUT = args.get("out") ?? new URL("./results/latest.json", import.meta.url).pathname;
const SIZES = QUICK
  ? { connectRuns: 2, calls: 200, callBlocks: 2, msgs: 2_000, msgRuns: 1, bulkMiB: 4, pushRuns: 1 }
  : {
    connectRuns: 20,
    calls: 10_000,
    callBlocks: 10,
    msgs: 100_000,
    msgRuns: 3,
    bulkMiB: 64,
    pushRuns: 5,
  };
const want = (s: string) => !ONLY || ONLY.includes(s);

// ---- results ------------------------------------------------------------------

type Row = BenchRow;

const rows: Row[] = [];
const extra: Record<string, unknown> = {};

function add(r: Row): void {
  rows.push(r);
  const base = r.baseline ? `  vs ${r.baseline.name} ${fmt(r.baseline.value)} ${r.unit}` : "";
  const target = r.target ? `  [${r.met ? "meets" : "misses"} ${r.target}]` : "";
  console.error(`  ${r.case}: ${fmt(r.fusion)} ${r.unit}${base}${target}`);
}

function log(s: string): void {
  console.error(s);
}

// ---- helpers --------------------------------------------------------------------

async function sshTrue(h: SshdHost): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command("ssh", {
    args: sshArgs(h, "true"),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`ssh true failed: ${new TextDecoder().decode(out.stderr)}`);
  return performance.now() - t0;
}

async function removeAgentCache(h: SshdHost): Promise<void> {
  await Deno.remove(`${h.home}/.cache/fusion`, { recursive: true }).catch(() => {});
}

function percentRows(
  section: string,
  name: string,
  s: Summary,
  base: Summary | undefined,
  baseName: string,
  unit: string,
  target?: { p50?: number; label: string },
): void {
  for (const q of ["p50", "p95", "p99"] as const) {
    if (q === "p99" && s.n < 100) continue;
    if (q === "p95" && s.n >= 100) continue;
    const r: Row = {
      section,
      case: `${name} ${q}`,
      fusion: s[q],
      unit,
      detail: { n: s.n, min: s.min, max: s.max },
    };
    if (base) {
      r.baseline = { name: baseName, value: base[q] };
      r.ratio = s[q] / base[q];
    }
    if (target && q === "p50" && target.p50 !== undefined && r.ratio !== undefined) {
      r.target = target.label;
      r.met = r.ratio <= target.p50;
    }
    add(r);
  }
}

// ---- sections ----------------------------------------------------------------

async function benchConnect(host: SshdHost, hub: Node): Promise<void> {
  log(`\nconnect: ${SIZES.connectRuns} runs each, interleaved with ssh true`);
  const ssh: number[] = [];
  const warm: number[] = [];
  const warmFirst: number[] = [];
  const cold: number[] = [];
  const system: number[] = [];
  const steps: Record<string, number[]> = {};
  // One connect first so that "warm" means the agent is cached and Deno has seen it.
  await (await new NodeManager(host.target(), { node: hub }).connect()).close();
  for (let i = 0; i < SIZES.connectRuns; i++) {
    ssh.push(await sshTrue(host));
    for (const kind of ["warm", "cold", "system"] as const) {
      if (kind === "cold") await removeAgentCache(host);
      let last = 0;
      let lastStep = "";
      const t0 = performance.now();
      const target = host.target(kind === "system" ? { sshBackend: "system" } : {});
      const manager = new NodeManager(target, {
        node: hub,
        log: (line) => {
          const m = /^\[fusion [^\]]*\] ([a-z ]+) \((\d+) ms\)$/.exec(line);
          if (!m || kind !== "warm") return;
          const now = performance.now() - t0;
          if (lastStep) (steps[lastStep] ??= []).push(now - last);
          last = now;
          lastStep = m[1]!;
        },
      });
      const remote = await manager.connect();
      const tc = performance.now() - t0;
      if (kind === "warm" && lastStep) (steps[lastStep] ??= []).push(tc - last);
      await remote.ping();
      const tf = performance.now() - t0;
      if (kind === "warm") {
        warm.push(tc);
        warmFirst.push(tf);
      } else if (kind === "cold") cold.push(tc);
      else system.push(tc);
      await manager.disconnect();
    }
  }
  const base = summarize(ssh);
  extra.sshTrue = base;
  percentRows("connect", "connect warm", summarize(warm), base, "ssh true", "ms", {
    p50: 1.0,
    label: "≤ 1.0× ssh true",
  });
  percentRows("connect", "connect warm + first call", summarize(warmFirst), base, "ssh true", "ms");
  percentRows("connect", "connect cold (agent upload)", summarize(cold), base, "ssh true", "ms");
  percentRows("connect", "connect warm [system ssh]", summarize(system), base, "ssh true", "ms");
  extra.connectSteps = Object.fromEntries(
    Object.entries(steps).map(([k, v]) => [k, summarize(v).p50]),
  );
  log(`  warm connect steps (median ms): ${JSON.stringify(extra.connectSteps, null, 0)}`);
}

async function benchCalls(host: SshdHost, hub: Node, remote: RemoteNode): Promise<void> {
  const perBlock = Math.round(SIZES.calls / SIZES.callBlocks);
  log(`\ncalls: ${SIZES.calls} of each, in ${SIZES.callBlocks} interleaved blocks`);
  const fixture = new URL("./fixtures/remote_actors.ts", import.meta.url);
  await remote.run(fixture, "noop");
  const raw = await RawTunnel.open(host.target());
  const value = [10, new Pid(remote.name, 1, 1), "ping"];
  const local = await Node.start({
    name: `peer-${crypto.randomUUID().slice(0, 6)}`,
    registryPort: hub.registryPort,
  });
  local.serve("ping", () => "pong");
  const t: Record<string, number[]> = { raw: [], ping: [], runFun: [], run: [], localPing: [] };
  try {
    // warm-up
    await rawPingPong(raw, 200, value);
    for (let i = 0; i < 200; i++) await remote.ping();
    for (let b = 0; b < SIZES.callBlocks; b++) {
      t.raw!.push(...await rawPingPong(raw, perBlock, value));
      for (let i = 0; i < perBlock; i++) {
        const t0 = performance.now();
        await remote.request("ping", null);
        t.ping!.push(performance.now() - t0);
      }
      for (let i = 0; i < perBlock; i++) {
        const t0 = performance.now();
        await remote.runFun(() => 1);
        t.runFun!.push(performance.now() - t0);
      }
      for (let i = 0; i < perBlock; i++) {
        const t0 = performance.now();
        await remote.run(fixture, "noop");
        t.run!.push(performance.now() - t0);
      }
      for (let i = 0; i < perBlock / 5; i++) {
        const t0 = performance.now();
        await hub.request(local.name, "ping", null);
        t.localPing!.push(performance.now() - t0);
      }
    }
  } finally {
    await raw.close();
    await local.close();
  }
  const base = summarize(t.raw!);
  const us = (s: Summary): Summary => ({
    ...s,
    p50: s.p50 * 1000,
    p95: s.p95 * 1000,
    p99: s.p99 * 1000,
    min: s.min * 1000,
    max: s.max * 1000,
  });
  extra.rawPing = us(base);
  add({
    section: "calls",
    case: "raw CBOR ping-pong over the tunnel p50",
    fusion: base.p50 * 1000,
    unit: "µs",
    note: "baseline itself",
    detail: us(base),
  });
  const target = { p50: 1.5, label: "≤ 1.5× raw ping" };
  percentRows("calls", "remote.ping()", us(summarize(t.ping!)), us(base), "raw ping", "µs", target);
  percentRows(
    "calls",
    "runFun(() => 1)",
    us(summarize(t.runFun!)),
    us(base),
    "raw ping",
    "µs",
    target,
  );
  percentRows(
    "calls",
    "run(pushed noop)",
    us(summarize(t.run!)),
    us(base),
    "raw ping",
    "µs",
    target,
  );
  const lp = us(summarize(t.localPing!));
  add({
    section: "calls",
    case: "request between two local nodes (no SSH) p50",
    fusion: lp.p50,
    unit: "µs",
    note: "Fusion's own layers over plain loopback TCP",
    detail: lp,
  });
}

function procCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

const median = (xs: number[]) => quantile(xs, 0.5);

async function benchMessages(
  host: SshdHost,
  hub: Node,
  remote: RemoteNode,
  backend: "ssh2" | "system",
): Promise<void> {
  const tag = backend === "ssh2" ? "" : " [system ssh]";
  log(`\nmessages${tag}: ${SIZES.msgs} small one way, ${SIZES.bulkMiB} × 1 MiB`);
  const fixture = new URL("./fixtures/remote_actors.ts", import.meta.url);
  const inbox = hub.inbox();
  const info = await remote.info();
  const agentRss0 = rssMiB(info.pid);
  const n = SIZES.msgs;
  const counter = await remote.spawn(fixture, "counter", [inbox.self, n]);
  const msg = { seq: 0, body: "x".repeat(80) };
  const frameBytes = new Codec().encodeFrame([1, counter, msg]).length;
  const rates: number[] = [];
  const hubCpu: number[] = [];
  const agentCpu: number[] = [];
  let agentRss1 = NaN;
  // One unmeasured run first: these figures are for a warmed-up (JIT-compiled) process.
  for (let r = -1; r < SIZES.msgRuns; r++) {
    const c0 = [cpuMs(), procCpuMs(info.pid)];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      hub.send(counter, { seq: i, body: msg.body });
      // Let the socket run now and then, as a real producer would.
      if (i % 5000 === 4999) await new Promise((res) => setTimeout(res, 0));
    }
    await inbox.receive({
      match: (m) => (m as { type?: string }).type === "counted",
      timeoutMs: 120_000,
    });
    if (r < 0) {
      agentRss1 = rssMiB(info.pid);
      continue;
    }
    rates.push(n / ((performance.now() - t0) / 1000));
    hubCpu.push((cpuMs() - c0[0]!) * 1000 / n);
    agentCpu.push((procCpuMs(info.pid) - c0[1]!) * 1000 / n);
  }
  // Baseline: the same frames as raw bytes over a tunnel, 1000 frames per write.
  const raw = await RawTunnel.open(host.target({ sshBackend: backend }));
  const batch = new Uint8Array(frameBytes * 1000);
  const one = new Codec().encodeFrame([1, counter, msg]);
  for (let i = 0; i < 1000; i++) batch.set(one, i * frameBytes);
  const rawRates: number[] = [];
  for (let r = -1; r < SIZES.msgRuns; r++) {
    const ms = await rawSink(raw, batch, n / 1000);
    if (r >= 0) rawRates.push(n / (ms / 1000));
  }
  const rate = median(rates);
  const rawRate = median(rawRates);
  add({
    section: "messages",
    case: `small messages one way (${frameBytes}-byte frames)${tag}`,
    fusion: rate,
    unit: "msgs/s",
    baseline: { name: "raw frames over the tunnel", value: rawRate },
    ratio: rawRate / rate,
    target: "≥ 200,000 msgs/s",
    met: rate >= 200_000,
    detail: { runs: rates, rawRuns: rawRates, n },
  });
  add({
    section: "messages",
    case: `  CPU per message: local node${tag}`,
    fusion: median(hubCpu),
    unit: "µs",
    note: backend === "ssh2" ? "encode + send + ssh2 encryption" : "encode + send",
  });
  add({
    section: "messages",
    case: `  CPU per message: agent${tag}`,
    fusion: median(agentCpu),
    unit: "µs",
    note: "receive + decode + deliver to the actor",
  });

  // Bulk.
  const mib = 1024 * 1024;
  const bytesActor = await remote.spawn(fixture, "byteCounter", [inbox.self, SIZES.bulkMiB * mib]);
  const blob = new Uint8Array(mib);
  crypto.getRandomValues(blob.subarray(0, 65536));
  const bulk: number[] = [];
  for (let r = -1; r < SIZES.msgRuns; r++) {
    const t0 = performance.now();
    for (let i = 0; i < SIZES.bulkMiB; i++) {
      hub.send(bytesActor, blob);
      await new Promise((res) => setTimeout(res, 0));
    }
    await inbox.receive({
      match: (m) => (m as { type?: string }).type === "bytes",
      timeoutMs: 120_000,
    });
    if (r >= 0) bulk.push(SIZES.bulkMiB / ((performance.now() - t0) / 1000));
  }
  const rawBulk: number[] = [];
  for (let r = -1; r < SIZES.msgRuns; r++) {
    const ms = await rawSink(raw, blob, SIZES.bulkMiB);
    if (r >= 0) rawBulk.push(SIZES.bulkMiB / (ms / 1000));
  }
  await raw.close();
  const bb = median(bulk);
  const rb = median(rawBulk);
  add({
    section: "messages",
    case: `bulk 1 MiB binaries one way${tag}`,
    fusion: bb,
    unit: "MiB/s",
    baseline: { name: "raw bytes over the tunnel", value: rb },
    ratio: rb / bb,
    target: "≥ 150 MiB/s",
    met: bb >= 150,
    detail: { runs: bulk, rawRuns: rawBulk },
  });
  if (backend === "ssh2") {
    add({ section: "memory", case: "agent RSS after connect", fusion: agentRss0, unit: "MiB" });
    add({
      section: "memory",
      case: `agent RSS after ${n.toLocaleString("en")} messages`,
      fusion: agentRss1,
      unit: "MiB",
    });
  }
  inbox.close();
}

async function benchPush(remote: RemoteNode): Promise<void> {
  log(`\ncode push: 20 local files + npm:ms, ${SIZES.pushRuns} runs`);
  const fixture = await makePushFixture();
  const cold: number[] = [];
  const warm: number[] = [];
  let bytes = 0;
  let warmBytes = 0;
  try {
    for (let i = 0; i < SIZES.pushRuns; i++) {
      await fixture.touch(); // new content: neither the local cache nor the remote has it
      let t0 = performance.now();
      const r = await remote.pushModule(fixture.entry);
      cold.push(performance.now() - t0);
      bytes = r.bytes;
      t0 = performance.now();
      const w = await remote.pushModule(fixture.entry);
      warm.push(performance.now() - t0);
      warmBytes = Math.max(warmBytes, w.bytes);
      if (w.hash !== r.hash) throw new Error("warm push changed the hash");
    }
  } finally {
    await fixture.remove();
  }
  const c = summarize(cold);
  const w = summarize(warm);
  add({
    section: "push",
    case: "push cold (bundle + send) p50",
    fusion: c.p50,
    unit: "ms",
    note: `${bytes.toLocaleString("en")} bytes sent`,
    detail: c,
  });
  add({
    section: "push",
    case: "push warm p50",
    fusion: w.p50,
    unit: "ms",
    target: "0 bytes sent",
    met: warmBytes === 0,
    note: `${warmBytes} bytes sent`,
    detail: w,
  });
}

// ---- issue 8: isolation, zero-install, supervisors (bench/_isolate.ts, _zero_install.ts, _supervisor.ts)

async function benchIssue8(host: SshdHost, hub: Node): Promise<void> {
  const report: Report = { add, log };
  if (want("isolation")) {
    log(`\nisolation: isolated vs in-agent run/runFun, warm and cold`);
    await benchIsolation(host, hub, { quick: QUICK, report });
  }
  if (want("zeroinstall")) {
    log(`\nzero-install: installDeno to a server user without Deno`);
    await benchZeroInstall(host, hub, { quick: QUICK, report });
  }
  if (want("supervisor")) {
    log(`\nsupervisors: from a crash to the restarted child answering`);
    await benchSupervisor(host, hub, { quick: QUICK, report });
  }
}

// ---- main ------------------------------------------------------------------------

if (args.has("table")) {
  // Re-prints the table of an earlier run's JSON.
  const file = args.get("table") === "true" ? OUT : args.get("table")!;
  console.log(table((JSON.parse(await Deno.readTextFile(file)) as { rows: Row[] }).rows));
  Deno.exit(0);
}

const started = performance.now();
const cpu0 = cpuMs();
const loadAtStart = Deno.loadavg();
log(`fusion bench${QUICK ? " (quick)" : ""}: ${Deno.build.target}, Deno ${Deno.version.deno}`);
const host = await startSshd({ hostKeyTypes: ["ed25519"] });
const hub = await Node.start({ name: `bench-${crypto.randomUUID().slice(0, 6)}`, registryPort: 0 });
try {
  if (want("connect")) await benchConnect(host, hub);
  if (want("calls") || want("messages") || want("push")) {
    const remote = await new NodeManager(host.target(), { node: hub }).connect();
    try {
      if (want("calls")) await benchCalls(host, hub, remote);
      if (want("messages")) await benchMessages(host, hub, remote, "ssh2");
      if (want("push")) await benchPush(remote);
    } finally {
      await remote.close();
    }
  }
  if (want("messages") && !QUICK) {
    // The same with OpenSSH's ssh (ControlMaster) carrying the tunnels instead of ssh2.
    const remote = await new NodeManager(host.target({ sshBackend: "system" }), { node: hub })
      .connect();
    try {
      await benchMessages(host, hub, remote, "system");
    } finally {
      await remote.close();
    }
  }
  if (want("rivals")) {
    log("\nrivals (against the same sshd)");
    for (const r of await runRivals(host, { quick: QUICK, calls: QUICK ? 100 : 2000 })) add(r);
  }
  await benchIssue8(host, hub);
} finally {
  await hub.close();
  await host.stop();
}
if (want("fanout")) {
  for (const n of HOSTS) {
    log(`\nfan-out to ${n} host${n === 1 ? "" : "s"}`);
    // A fresh process per N, like a script that starts and fans out: its CPU and RSS
    // are the fan-out's alone.
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_fanout.ts", import.meta.url).pathname,
        String(n),
        ...(QUICK ? ["--quick"] : []),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    if (!out.success) {
      log(`  fan-out to ${n} failed (exit ${out.code})`);
      continue;
    }
    for (const r of JSON.parse(text) as Row[]) add(r);
  }
}

// ---- report --------------------------------------------------------------------

const machine = {
  cpus: navigator.hardwareConcurrency,
  model: (/model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    ?.[1]) ?? "?",
  memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
  // Other work on this machine shows here: the load before and after the run.
  loadavgStart: loadAtStart,
  loadavg: Deno.loadavg(),
  kernel: Deno.osRelease(),
  deno: Deno.version.deno,
  openssh: await new Deno.Command("ssh", { args: ["-V"], stderr: "piped" }).output()
    .then((o) => new TextDecoder().decode(o.stderr).trim()).catch(() => "?"),
};
const result = {
  date: new Date().toISOString(),
  quick: QUICK,
  machine,
  benchSeconds: (performance.now() - started) / 1000,
  benchCpuSeconds: (cpuMs() - cpu0) / 1000,
  rows,
  extra,
};
await Deno.mkdir(new URL(".", `file://${OUT}`), { recursive: true }).catch(() => {});
await Deno.writeTextFile(OUT, JSON.stringify(result, null, 2) + "\n");
console.log(table(rows));
console.log(
  `\n${machine.cpus} cores (${machine.model}), load ${
    machine.loadavgStart.map((l) => l.toFixed(1)).join(" ")
  } at the start, ${machine.loadavg.map((l) => l.toFixed(1)).join(" ")} at the end; ${
    result.benchSeconds.toFixed(0)
  } s; JSON in ${OUT}`,
);

function table(unsorted: Row[]): string {
  const SECTIONS = [
    "connect",
    "calls",
    "messages",
    "push",
    "memory",
    "isolation",
    "zero-install",
    "supervisors",
    "fan-out",
    "rivals",
  ];
  // Grouped by section, in a fixed order; rows keep their order within a section.
  const rs = [...unsorted].sort((a, b) =>
    SECTIONS.indexOf(a.section) - SECTIONS.indexOf(b.section)
  );
  const head = ["case", "Fusion", "baseline", "ratio", "target"];
  const lines = rs.map((r) => [
    r.case,
    `${fmt(r.fusion)} ${r.unit}`,
    r.baseline ? `${fmt(r.baseline.value)} (${r.baseline.name})` : (r.note ?? ""),
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}×` : "",
    r.target ? `${r.met ? "✓" : "✗"} ${r.target}` : "",
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmtLine = (l: string[]) =>
    l.map((c, i) => i === 1 ? c.padStart(w[i]!) : c.padEnd(w[i]!)).join("  ").trimEnd();
  let section = "";
  const out = [fmtLine(head), w.map((n) => "-".repeat(n)).join("  ")];
  for (let i = 0; i < rs.length; i++) {
    if (rs[i]!.section !== section) {
      section = rs[i]!.section;
      out.push(`[${section}]`);
    }
    out.push(fmtLine(lines[i]!));
  }
  return out.join("\n");
}
