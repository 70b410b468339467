// Another user on the server: Fusion is connected there as user A (the agent runs, sshd holds
// the reverse tunnels to the hub's registry and listener on the server's 127.0.0.1), and a
// second user B of the same server, holding neither the cookie nor a ticket, tries the
// registry (register, look up, list) and handshakes with the agent and the hub. Everything is
// refused, and A's connection works on. The server is a network namespace host, so its
// loopback is its own; B's attempts run as B there (`ip netns exec … runuser -u B`), from a
// bundle of _fixtures/other_user_probe.ts. Needs root and `ip netns`.
import assert from "node:assert/strict";
import { bundleModule } from "../../src/code/mod.ts";
import { lookup, names } from "../../src/registry/mod.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import { run } from "../support/_proc.ts";
import {
  createTestUser,
  deleteTestUser,
  type NetnsHost,
  netnsUnavailable,
  startNetnsHost,
  type TestUser,
} from "../support/mod.ts";
import type { Attempt, ProbeInput, ProbeReport } from "./_fixtures/other_user_probe.ts";
import { remoteTest, unavailable } from "./_remote.ts";

const why = unavailable ?? await netnsUnavailable();
if (why && !unavailable) console.error(`\n!!!!! OTHER-USER TEST SKIPPED: ${why} !!!!!\n`);

const PROBE = new URL("./_fixtures/other_user_probe.ts", import.meta.url);
const PROBE_TIMEOUT_MS = 90_000;

/** One socket from `ss -tnpH` / `ss -ltnpH`. */
interface Sock {
  local: number;
  peer: number;
  process: string;
}

async function sockets(netns: string, listening: boolean): Promise<Sock[]> {
  const args = listening ? ["-ltnpH"] : ["-tnpH", "state", "established"];
  const r = await run("ip", ["netns", "exec", netns, "ss", ...args], { check: false });
  assert.equal(r.code, 0, r.stderr);
  const port = (s: string | undefined) => Number(s?.slice(s.lastIndexOf(":") + 1));
  const out: Sock[] = [];
  for (const line of r.stdout.split("\n")) {
    // LISTEN lines start with the state; `state established` leaves it out.
    const f = line.trim().split(/\s+/);
    const at = listening ? 3 : 2;
    if (!f[at]) continue;
    out.push({ local: port(f[at]), peer: port(f[at + 1]), process: f.slice(at + 2).join(" ") });
  }
  return out;
}

/**
 * The server-side ports: the agent's listener (deno), and sshd's two reverse-tunnel ends,
 * told apart by the agent's registration, a connection it keeps open to the registry's end.
 */
async function serverPorts(host: NetnsHost): Promise<Omit<ProbeInput, "hub" | "agent">> {
  const listening = (await sockets(host.netns, true)).filter((s) =>
    !s.process.includes(`pid=${host.pid},`)
  );
  const shown = JSON.stringify(listening);
  const agent = listening.filter((s) => s.process.includes('"deno"'));
  const tunnels = listening.filter((s) => s.process.includes('"sshd'));
  assert.equal(agent.length, 1, shown);
  assert.equal(tunnels.length, 2, shown);
  const tunnelPorts = tunnels.map((s) => s.local);
  const agentPid = /pid=(\d+)/.exec(agent[0]!.process)![1];
  const established = await sockets(host.netns, false);
  const dialled = established.filter((s) =>
    s.process.includes(`pid=${agentPid},`) && tunnelPorts.includes(s.peer)
  ).map((s) => s.peer);
  assert.equal(new Set(dialled).size, 1, `the agent's connections: ${JSON.stringify(established)}`);
  const registryPort = dialled[0]!;
  return {
    registryPort,
    hubPort: tunnelPorts.find((p) => p !== registryPort)!,
    agentPort: agent[0]!.local,
  };
}

/** Runs the probe bundle as `user` inside the server's namespace. */
async function probeAs(user: TestUser, host: NetnsHost, input: ProbeInput): Promise<ProbeReport> {
  const bundle = await bundleModule(PROBE, { diskCache: false, sourceMap: false });
  const path = `${user.home}/probe.js`;
  await Deno.writeFile(path, bundle.code, { mode: 0o644 });
  await Deno.chown(path, user.uid, null);
  const child = new Deno.Command("ip", {
    args: [
      ...["netns", "exec", host.netns, "runuser", "-u", user.name, "--"],
      ...["env", "-i", `HOME=${user.home}`, "PATH=/usr/bin:/bin", "DENO_NO_UPDATE_CHECK=1"],
      ...[
        Deno.execPath(),
        "run",
        "--no-config",
        "--allow-net=127.0.0.1",
        "--allow-env",
        "--allow-sys=uid",
        path,
      ],
      JSON.stringify(input),
    ],
    cwd: user.home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const out = await Promise.race([
      child.output(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the probe took over ${PROBE_TIMEOUT_MS} ms`)),
          PROBE_TIMEOUT_MS,
        );
      }),
    ]);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `the probe failed: ${stderr}`);
    return JSON.parse(new TextDecoder().decode(out.stdout).trim()) as ProbeReport;
  } finally {
    clearTimeout(timer);
    // Whatever is left of it runs as the user, whom the caller deletes with all its processes.
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
}

function refusal(report: ProbeReport, what: string): Attempt {
  const a = report.attempts.find((x) => x.what === what);
  assert.ok(a, `no attempt "${what}" in ${JSON.stringify(report)}`);
  assert.equal(a.ok, false, `"${what}" succeeded: ${a.message}`);
  return a;
}

remoteTest(
  "another user on the server can neither register, look up, list nor connect to Fusion's ports there without the cookie",
  {
    ignore: why !== undefined,
    deadlineMs: 180_000,
    startHost: () => startNetnsHost(),
  },
  async ({ host, hub, target }) => {
    const netHost = host as NetnsHost;
    const other = await createTestUser();
    try {
      assert.notEqual(other.uid, host.uid);
      const manager = new NodeManager(target, { node: hub, output: () => {} });
      try {
        const remote = await manager.connect();
        assert.equal(await remote.runFun((a: number) => a + 1, [41]), 42);
        const ports = await serverPorts(netHost);
        const report = await probeAs(other, netHost, {
          ...ports,
          hub: hub.name,
          agent: remote.name,
        });
        console.log(
          report.attempts.map((a) => `${a.what}: ${a.error} ${a.reason ?? ""}`).join("\n"),
        );
        // The probe really ran as the other user.
        assert.equal(report.uid, other.uid);

        // (a) Registering: refused for want of a proof.
        for (
          const what of [
            "register a new name with a guessed cookie",
            "register the agent's name with a guessed ticket",
          ]
        ) {
          const a = refusal(report, what);
          assert.equal(a.error, "AuthenticationError", `${what}: ${a.message}`);
        }
        // (b) No proof, no answer: a request gets only a challenge.
        for (const what of ["lookup with no proof", "names with no proof"]) {
          const a = refusal(report, what);
          assert.equal(a.error, "NoAnswer");
          const frames = JSON.parse(a.message!) as unknown[][];
          assert.equal(frames[0]?.[0], "challenge", `${what}: ${a.message}`);
          assert.ok(!a.message!.includes(String(ports.agentPort)));
        }
        for (
          const what of [
            "look up the agent with a guessed cookie",
            "look up the hub with a guessed ticket",
            "list names with a guessed cookie",
            "list names with a guessed ticket",
          ]
        ) {
          const a = refusal(report, what);
          assert.equal(a.error, "AuthenticationError", `${what}: ${a.message}`);
          assert.match(a.message!, /wrong proof/, what);
        }
        // (c) Handshakes: the agent admits only its hub, and neither takes a guess.
        const expected: [string, string][] = [
          ["handshake with the agent as the hub, guessed cookie", "auth"],
          ["handshake with the agent as a stranger, guessed cookie", "hub-only"],
          ["handshake with the hub as a stranger, guessed cookie", "auth"],
          ["handshake with the hub as the agent, guessed ticket", "auth"],
        ];
        for (const [what, reason] of expected) {
          const a = refusal(report, what);
          assert.equal(a.error, "HandshakeRefusedError", `${what}: ${a.error} ${a.message}`);
          assert.equal(a.reason, reason, `${what}: ${a.message}`);
        }

        // A's connection works on, and the registry holds nothing of B's.
        assert.equal(await remote.runFun((a: number) => a * 2, [21]), 42);
        assert.ok(hub.nodes().includes(remote.name));
        const q = { port: hub.registryPort, credentials: hub.credentials };
        assert.deepEqual(
          (await names(q)).map((e) => e.name).sort(),
          [hub.name, remote.name].sort(),
        );
        assert.equal(await lookup("intruder@localhost", q), undefined);
      } finally {
        await manager.disconnect();
      }
      assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 15_000 }), []);
    } finally {
      await deleteTestUser(other);
    }
  },
);
