// A lossy link: a namespace host whose packets are dropped at random, 5% each way (iptables'
// statistic match; this kernel has no netem). Calls complete, messages keep their order,
// nothing is duplicated. Needs root, `ip netns` and iptables (Debian package "iptables").
import assert from "node:assert/strict";
import { TimeoutError } from "../../src/errors.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import type { Pid } from "../../src/wire/pid.ts";
import { type NetnsHost, netnsUnavailable, startNetnsHost } from "../support/mod.ts";
import { run } from "../support/_proc.ts";
import { REMOTE_CODE, remoteTest } from "./_remote.ts";

async function iptablesUnavailable(): Promise<string | undefined> {
  const netns = await netnsUnavailable();
  if (netns) return netns;
  const probe = await run("iptables", ["--version"], { check: false }).catch(() => undefined);
  return probe?.code === 0 ? undefined : "iptables is not installed (apt-get install iptables)";
}

const why = await iptablesUnavailable();
if (why) console.error(`\n!!!!! LOSSY LINK TEST SKIPPED: ${why} !!!!!\n`);

const LOSS = "0.05";
let netHost: NetnsHost | undefined;

remoteTest(
  "a lossy link (5% of packets dropped each way): calls complete, messages keep their order, nothing is duplicated",
  {
    ignore: why !== undefined,
    deadlineMs: 150_000,
    // Each lost packet of the handshake costs a retransmission timeout (1 s for a SYN).
    limits: { handshakeTimeoutMs: 30_000 },
    startHost: async () => {
      const host = netHost = await startNetnsHost();
      try {
        for (const chain of ["INPUT", "OUTPUT"]) {
          const r = await host.execInNetns("iptables", [
            "-A",
            chain,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            LOSS,
            "-j",
            "DROP",
          ]);
          if (r.code !== 0) throw new Error(`iptables: ${r.stderr.trim()}`);
        }
      } catch (e) {
        await host.stop();
        throw e;
      }
      return host;
    },
  },
  async ({ host, hub, target }) => {
    const manager = new NodeManager(target, {
      node: hub,
      connectTimeoutMs: 90_000,
      output: () => {},
    });
    const remote = await manager.connect();
    try {
      using inbox = hub.inbox();
      const echo = await remote.spawn(REMOTE_CODE, "forward", [inbox.self]) as Pid;
      const N = 300;
      for (let i = 0; i < N; i++) hub.send(echo, { i, pad: "q".repeat(200) });
      const calls = Promise.all(
        Array.from({ length: 30 }, (_, i) => remote.runFun((n: number) => n + 1, [i])),
      );
      const big = remote.runFun((b: Uint8Array) => b.length, [new Uint8Array(256 * 1024)]);
      const got: number[] = [];
      for (let k = 0; k < N; k++) {
        got.push((await inbox.receive<{ got: { i: number } }>({ timeoutMs: 60_000 })).got.i);
      }
      assert.deepEqual(got, Array.from({ length: N }, (_, i) => i), "in order, each once");
      assert.deepEqual(await calls, Array.from({ length: 30 }, (_, i) => i + 1));
      assert.equal(await big, 256 * 1024);
      await assert.rejects(inbox.receive({ timeoutMs: 500 }), TimeoutError, "nothing duplicated");
      // The loss was real.
      const counters = await netHost!.execInNetns("iptables", ["-L", "-v", "-n", "-x"]);
      const dropped = [...counters.stdout.matchAll(/^\s*(\d+)\s+\d+\s+DROP/gm)]
        .reduce((n, m) => n + Number(m[1]), 0);
      console.log(`${dropped} packets dropped`);
      assert.ok(dropped > 0, counters.stdout);
    } finally {
      await manager.disconnect();
    }
    assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 15_000 }), []);
  },
);
