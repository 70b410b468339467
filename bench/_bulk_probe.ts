/**
 * A/B probe for bulk binaries (issue 6): `deno run -A bench/_bulk_probe.ts [--runs=5]
 * [--mib=64] [--backends=ssh2,system] [--small] [--ping]`. Per backend, interleaves runs of
 * 1 MiB binaries sent to a remote actor (as `deno task bench` does) with raw bytes over
 * a tunnel of the same backend, and prints medians, the ratio and CPU per MiB. `--small`
 * adds small messages one way, `--ping` remote.ping() p50.
 * @module
 */
import { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import { startSshd } from "../tests/support/mod.ts";
import { rawPingPong, rawSink, RawTunnel } from "./_raw.ts";
import { cpuMs, quantile } from "./_stats.ts";
import { Pid } from "../src/wire/pid.ts";

const args = new Map(
  Deno.args.map((a) => {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    return [m[1]!, m[2] ?? "true"] as const;
  }),
);
const RUNS = Number(args.get("runs") ?? 5);
const MIB = Number(args.get("mib") ?? 64);
const BACKENDS = (args.get("backends") ?? "ssh2,system").split(",") as ("ssh2" | "system")[];
const median = (xs: number[]) => quantile(xs, 0.5);
const f1 = (x: number) => x.toFixed(1);

function procCpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Like rawSink, but through a Deno TCP socket (the dist transport's kind). */
async function denoSink(port: number, chunk: Uint8Array, times: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const head = new Uint8Array(9);
  head[0] = 0x73;
  new DataView(head.buffer).setBigUint64(1, BigInt(chunk.length * times));
  const write = async (b: Uint8Array) => {
    for (let off = 0; off < b.length;) off += await conn.write(b.subarray(off));
  };
  await write(head);
  for (let i = 0; i < times; i++) await write(chunk);
  await conn.read(new Uint8Array(1));
  conn.close();
}

const host = await startSshd({ hostKeyTypes: ["ed25519"] });
const hub = await Node.start({ name: `probe-${crypto.randomUUID().slice(0, 6)}`, registryPort: 0 });
const fixture = new URL("./fixtures/remote_actors.ts", import.meta.url);
const out: Record<string, unknown> = { load: Deno.loadavg() };
try {
  for (const backend of BACKENDS) {
    const target = host.target(backend === "system" ? { sshBackend: "system" } : {});
    const remote = await new NodeManager(target, { node: hub }).connect();
    const raw = await RawTunnel.open(host.target({ sshBackend: backend }));
    const inbox = hub.inbox();
    const agentPid = (await remote.info()).pid;
    try {
      const mib = 1024 * 1024;
      const sink = await remote.spawn(fixture, "byteCounter", [inbox.self, MIB * mib]);
      const blob = new Uint8Array(mib);
      crypto.getRandomValues(blob.subarray(0, 65536));
      const fus: number[] = [];
      const raws: number[] = [];
      const hubCpu: number[] = [];
      const agentCpu: number[] = [];
      const rawHubCpu: number[] = [];
      const denoRaw: number[] = [];
      const denoRawCpu: number[] = [];
      for (let r = -1; r < RUNS; r++) {
        const c0 = [cpuMs(), procCpuMs(agentPid)];
        const t0 = performance.now();
        for (let i = 0; i < MIB; i++) {
          hub.send(sink, blob);
          await new Promise((res) => setTimeout(res, 0));
        }
        await inbox.receive({
          match: (m) => (m as { type?: string }).type === "bytes",
          timeoutMs: 120_000,
        });
        const ms = performance.now() - t0;
        const c1 = [cpuMs(), procCpuMs(agentPid)];
        const ms2 = await rawSink(raw, blob, MIB);
        const c2 = cpuMs();
        if (args.has("denoraw")) {
          const t3 = performance.now();
          await denoSink(raw.localPort, blob, MIB);
          const ms3 = performance.now() - t3;
          if (r >= 0) {
            denoRaw.push(MIB / (ms3 / 1000));
            denoRawCpu.push((cpuMs() - c2) / MIB);
          }
        }
        if (r < 0) continue;
        rawHubCpu.push((c2 - c1[0]!) / MIB);
        fus.push(MIB / (ms / 1000));
        raws.push(MIB / (ms2 / 1000));
        hubCpu.push((c1[0]! - c0[0]!) / MIB);
        agentCpu.push((c1[1]! - c0[1]!) / MIB);
      }
      const row = {
        fusion: median(fus),
        raw: median(raws),
        ratio: median(raws) / median(fus),
        hubCpuMsPerMiB: median(hubCpu),
        rawHubCpuMsPerMiB: median(rawHubCpu),
        agentCpuMsPerMiB: median(agentCpu),
        runs: fus.map(Math.round),
        rawRuns: raws.map(Math.round),
      };
      out[`bulk ${backend}`] = row;
      if (denoRaw.length) {
        console.log(
          `raw over Deno's TCP ${backend}: ${f1(median(denoRaw))} MiB/s, hub ${
            f1(median(denoRawCpu))
          } ms/MiB`,
        );
      }
      console.log(
        `bulk ${backend}: ${f1(row.fusion)} MiB/s vs raw ${f1(row.raw)} (${
          row.ratio.toFixed(2)
        }×)  hub ${f1(row.hubCpuMsPerMiB)} (raw ${f1(row.rawHubCpuMsPerMiB)}) ms/MiB, agent ${
          f1(row.agentCpuMsPerMiB)
        } ms/MiB  runs ${row.runs} raw ${row.rawRuns}`,
      );

      if (args.has("small")) {
        const n = 100_000;
        const counter = await remote.spawn(fixture, "counter", [inbox.self, n]);
        const rates: number[] = [];
        for (let r = -1; r < RUNS; r++) {
          const t0 = performance.now();
          for (let i = 0; i < n; i++) {
            hub.send(counter, { seq: i, body: "x".repeat(80) });
            if (i % 5000 === 4999) await new Promise((res) => setTimeout(res, 0));
          }
          await inbox.receive({
            match: (m) => (m as { type?: string }).type === "counted",
            timeoutMs: 120_000,
          });
          if (r >= 0) rates.push(n / ((performance.now() - t0) / 1000));
        }
        out[`small ${backend}`] = { median: median(rates), runs: rates.map(Math.round) };
        console.log(
          `small ${backend}: ${Math.round(median(rates))} msgs/s  runs ${rates.map(Math.round)}`,
        );
      }
      if (args.has("ping")) {
        const ping: number[] = [];
        const rp: number[] = [];
        const value = [10, new Pid(remote.name, 1, 1), "ping"];
        for (let b = 0; b < RUNS; b++) {
          rp.push(...await rawPingPong(raw, 500, value));
          for (let i = 0; i < 500; i++) {
            const t0 = performance.now();
            await remote.ping();
            ping.push(performance.now() - t0);
          }
        }
        out[`ping ${backend}`] = { p50: median(ping), rawP50: median(rp) };
        console.log(
          `ping ${backend}: p50 ${f1(median(ping) * 1000)} µs vs raw ${f1(median(rp) * 1000)} µs`,
        );
      }
    } finally {
      inbox.close();
      await raw.close();
      await remote.close();
    }
  }
} finally {
  await hub.close();
  await host.stop();
}
out.loadEnd = Deno.loadavg();
console.log(JSON.stringify(out));
