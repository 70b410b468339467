/**
 * Probe: the agent's own CPU (all threads, /proc/<pid>/task/<tid>/schedstat) and wall
 * time from `deno run` to its first setup frame, its registration and the answer of
 * a first runFun, without ssh (direct TCP to an in-process hub), against an empty
 * `deno run`. PING=1 adds a ping p50 (µs) after warm-up.
 *   deno run -A bench/_agent_probe.ts [rounds] [bundle path]
 * @module
 */
import { Node } from "../src/node.ts";
import { RemoteNode } from "../src/remote/remote_node.ts";
import { ticketFor } from "../src/dist/credentials.ts";
import { Codec } from "../src/wire/codec.ts";
import { FrameReader } from "../src/wire/frame.ts";
import { childCpuMs, quantile } from "./_stats.ts";

const rounds = Number(Deno.args[0] ?? 10);
const bundle = Deno.args[1] ?? new URL("../src/agent/_bundle.js", import.meta.url).pathname;
const BASE = ["run", "-A", "--no-config", "--no-lock", "--no-prompt", "--quiet"];

interface Variant {
  name: string;
  args: string[];
  env?: Record<string, string>;
}
const dir = await Deno.makeTempDir({ prefix: "fusion-agent-probe-" });
const empty = `${dir}/empty.js`;
await Deno.writeTextFile(empty, "");
// VARIANTS='[{"name":…,"args":[…,"$BUNDLE"],"env":{…}}]' compares Deno flags or bundles.
const VARIANTS: Variant[] = JSON.parse(Deno.env.get("VARIANTS") ?? "null") ?? [
  { name: "empty deno run", args: [...BASE, empty] },
  { name: "agent", args: [...BASE, "$BUNDLE"] },
];

function procCpu(pid: number): number {
  try {
    let ns = 0;
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      ns += Number(Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/schedstat`).split(" ")[0]);
    }
    return ns / 1e6;
  } catch { /* fall through */ }
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

const cookie = crypto.getRandomValues(new Uint8Array(32));
const hub = await Node.start({
  name: `probe-${crypto.randomUUID().slice(0, 6)}`,
  registryPort: 0,
  cookie,
});
const codec = new Codec();

async function once(v: Variant, ping: boolean) {
  const cpu0 = childCpuMs();
  const t0 = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: v.args.map((a) => a === "$BUNDLE" ? bundle : a),
    env: v.env ?? {},
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  if (v.args.at(-1) === empty) {
    // A status only: CPU of a Deno that runs nothing.
    const c0 = childCpuMs();
    const st = await child.status;
    return { wall: performance.now() - t0, cpu: childCpuMs() - c0, status: st.code };
  }
  const name = `a${crypto.randomUUID().slice(0, 8)}@localhost`;
  const w = child.stdin.getWriter();
  await w.write(codec.encodeFrame({
    v: 1,
    name,
    ticket: ticketFor(cookie, name),
    hub: hub.name,
    mode: "tcp",
    registryPort: hub.registryPort,
    hubPort: hub.port,
    tickTimeoutMs: 60_000,
  }));
  const reader = new FrameReader({ maxFrameBytes: 65536 });
  const queue: unknown[] = [];
  const r = child.stdout.getReader();
  const next = async () => {
    while (!queue.length) {
      const { value, done } = await r.read();
      if (done) throw new Error("agent ended");
      reader.push(value, (b) => queue.push(codec.decode(b)));
    }
    return queue.shift() as Record<string, unknown>;
  };
  const first = await next();
  const tFirst = performance.now() - t0;
  const cpuFirst = procCpu(child.pid);
  await w.write(codec.encodeFrame({ advertisedPort: first.port }));
  await next();
  const cpuReg = procCpu(child.pid);
  const tReg = performance.now() - t0;
  await hub.connect(name);
  await new RemoteNode(name, hub, () => Promise.resolve()).runFun(() => Deno.hostname());
  const tCall = performance.now() - t0;
  const cpuCall = procCpu(child.pid);
  let p = NaN;
  if (ping) {
    for (let i = 0; i < 300; i++) await hub.request(name, "ping", null);
    const xs: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = performance.now();
      await hub.request(name, "ping", null);
      xs.push(performance.now() - s);
    }
    p = quantile(xs, 0.5) * 1000;
  }
  r.releaseLock();
  child.stdout.cancel().catch(() => {});
  await w.close().catch(() => {});
  const st = await child.status;
  // The whole life, exit included (10 ms ticks: read the median of many).
  const cpuLife = childCpuMs() - cpu0;
  return {
    wall: tCall,
    tFirst,
    tReg,
    cpuFirst,
    cpuReg,
    cpuCall,
    cpuLife,
    ping: p,
    status: st.code,
  };
}

const results = new Map<string, Record<string, number>[]>();
for (let i = 0; i < rounds + 1; i++) {
  for (const v of VARIANTS) {
    const x = await once(v, Deno.env.get("PING") === "1" && i > 0) as Record<string, number>;
    if (i === 0) continue; // warm-up
    if (!results.has(v.name)) results.set(v.name, []);
    results.get(v.name)!.push(x);
  }
}
for (const [name, xs] of results) {
  const keys = Object.keys(xs[0]!).filter((k) => k !== "status");
  console.log(
    name.padEnd(24),
    keys.map((k) => `${k}=${quantile(xs.map((x) => x[k]!), 0.5).toFixed(1)}`).join(" "),
  );
}
await hub.close();
await Deno.remove(dir, { recursive: true });
Deno.exit(0);
