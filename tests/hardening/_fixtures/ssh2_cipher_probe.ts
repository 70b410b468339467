/**
 * Probe for the soak's RSS creep: per SSH packet, how many Deno resources and how much RSS does
 * ssh2 leave behind, per cipher? `deno run -A --v8-flags=--expose-gc <this> [cipher] [cycles]`.
 * Each cycle: connect (ssh2, that cipher only), exec `cat`, 500 echo round trips, close.
 * @module
 */
import type { Duplex } from "node:stream";
import { Client } from "ssh2";
import { startSshd } from "../../support/mod.ts";

const cipher = Deno.args[0] ?? "chacha20-poly1305@openssh.com";
const cycles = Number(Deno.args[1] ?? 10);
const ROUNDS = 500;
// deno-lint-ignore no-explicit-any
const core = (Deno as any)[(Deno as any).internal].core;
const resources = () => Object.keys(core.resources()).length;
function sample() {
  (globalThis as { gc?: () => void }).gc?.();
  const kb = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))![1]);
  return { rss: kb / 1024, res: resources(), heap: Deno.memoryUsage().heapUsed / 2 ** 20 };
}

const host = await startSshd();
try {
  const key = await Deno.readTextFile(host.keyPath);
  const xs: number[] = [];
  const ys: number[] = [];
  for (let c = 1; c <= cycles; c++) {
    const client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once("ready", () => resolve()).once("error", reject).connect({
        host: host.host,
        port: host.port,
        username: host.user,
        privateKey: key,
        hostVerifier: () => true,
        algorithms: { cipher: [cipher] },
      });
    });
    const ch = await new Promise<Duplex>((resolve, reject) =>
      client.exec("cat", (err: Error | undefined, s: Duplex) => err ? reject(err) : resolve(s))
    );
    for (let i = 0; i < ROUNDS; i++) {
      const got = new Promise((r) => ch.once("data", r));
      ch.write(`ping ${i}\n`);
      await got;
    }
    ch.end();
    client.end();
    await new Promise((r) => client.once("close", r));
    await new Promise((r) => setTimeout(r, 50));
    const s = sample();
    xs.push(c);
    ys.push(s.rss);
    console.log(
      `${cipher} cycle ${c}: rss ${s.rss.toFixed(1)} MiB, resources ${s.res}, heap ${
        s.heap.toFixed(1)
      } MiB`,
    );
  }
  const n = xs.length, mx = xs.reduce((a, b) => a + b) / n, my = ys.reduce((a, b) => a + b) / n;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) /
    xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  console.log(`${cipher}: RSS slope ${slope.toFixed(3)} MiB/cycle (${ROUNDS} round trips each)`);
} finally {
  await host.stop();
}
