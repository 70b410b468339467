/**
 * Fusion's own cost for bulk binaries, without SSH: two connections over loopback TCP
 * in one process, `deno run -A bench/_bulk_local.ts [--mib=256] [--runs=5]`. Prints
 * MiB/s and this process's CPU ms per MiB (both ends: encode, frame, TCP, gather, decode).
 * @module
 */
import { openConnection } from "../src/dist/connection.ts";
import { tcpConnect, tcpListen } from "../src/dist/tcp.ts";
import type { Transport } from "../src/dist/transport.ts";
import { Pid } from "../src/wire/pid.ts";
import { cpuMs, quantile } from "./_stats.ts";
import { Recorder, suiteCredentials } from "../tests/support/transport_suite.ts";

const args = new Map(Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const MIB = Number(args.get("mib") ?? 256);
const RUNS = Number(args.get("runs") ?? 5);

const accepted = Promise.withResolvers<Transport>();
const listener = await tcpListen((t) => accepted.resolve(t));
const ta = await tcpConnect(listener.port);
const tb = await accepted.promise;
const ra = new Recorder();
const rb = new Recorder();
const common = { creation: 1, credentials: suiteCredentials() };
const [a, b] = await Promise.all([
  openConnection(ta, { ...common, role: "initiator", self: "a@localhost", handlers: ra }),
  openConnection(tb, { ...common, role: "acceptor", self: "b@localhost", handlers: rb }),
]);
const blob = new Uint8Array(1024 * 1024);
crypto.getRandomValues(blob.subarray(0, 65536));
const to = new Pid("b@localhost", 1, 1);
const rates: number[] = [];
const cpu: number[] = [];
for (let r = -1; r < RUNS; r++) {
  rb.messages.length = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < MIB; i++) {
    a.send([1, to, blob]);
    await new Promise((res) => setTimeout(res, 0));
  }
  await rb.until(() => rb.messages.length === MIB, 60_000, "all");
  if (r < 0) continue;
  rates.push(MIB / ((performance.now() - t0) / 1000));
  cpu.push((cpuMs() - c0) / MIB);
}
console.log(
  `local bulk: ${quantile(rates, 0.5).toFixed(0)} MiB/s, ${
    quantile(cpu, 0.5).toFixed(2)
  } ms CPU per MiB (runs ${rates.map(Math.round)}; cpu ${cpu.map((c) => c.toFixed(2))})`,
);
a.close();
b.close();
await Promise.all([ra.downed(2000), rb.downed(2000)]);
await listener.close();
