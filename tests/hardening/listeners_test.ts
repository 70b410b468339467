// No listening socket beyond 127.0.0.1 on either side, sshd's reverse tunnels included; and
// against a server whose sshd has `GatewayPorts yes` (reverse tunnels bound on every
// interface), Fusion warns and the tickets still keep strangers out. The server is a network
// namespace host: its side is `ip netns exec <ns> ss -ltnp`, and a "stranger" is a connection
// from this namespace to its 10.231.x.2 address. Needs root and `ip netns`.
import assert from "node:assert/strict";
import { openConnection } from "../../src/dist/connection.ts";
import { type Credentials, ticketFor } from "../../src/dist/credentials.ts";
import { HandshakeRefusedError } from "../../src/dist/handshake.ts";
import { tcpConnect } from "../../src/dist/tcp.ts";
import { AuthenticationError, NameTakenError } from "../../src/errors.ts";
import type { Node } from "../../src/node.ts";
import { lookup, names, register, type RegistryQueryOptions } from "../../src/registry/mod.ts";
import { type ConnectionWarning, NodeManager } from "../../src/remote/mod.ts";
import type { SshBackendKind } from "../../src/ssh/mod.ts";
import { run } from "../support/_proc.ts";
import { childPids, type NetnsHost, netnsUnavailable, startNetnsHost } from "../support/mod.ts";
import { Recorder } from "../support/transport_suite.ts";
import { COOKIE, within } from "./_helpers.ts";
import { remoteTest, unavailable } from "./_remote.ts";

const why = unavailable ?? await netnsUnavailable();
if (why && !unavailable) console.error(`\n!!!!! LISTENER TESTS SKIPPED: ${why} !!!!!\n`);

const BACKENDS: SshBackendKind[] = ["ssh2", "system"];
const WRONG_COOKIE = new TextEncoder().encode("not-the-cookie-0123456789abcdef!!");

/** One line of `ss -ltnpH`. */
interface Listener {
  address: string;
  port: number;
  pids: number[];
  process: string;
}

async function listeners(netns?: string): Promise<Listener[]> {
  const args = ["-ltnpH"];
  const r = netns
    ? await run("ip", ["netns", "exec", netns, "ss", ...args], { check: false })
    : await run("ss", args, { check: false });
  assert.equal(r.code, 0, r.stderr);
  const out: Listener[] = [];
  for (const line of r.stdout.split("\n")) {
    const f = line.trim().split(/\s+/);
    const local = f[3];
    if (f[0] !== "LISTEN" || !local) continue;
    const i = local.lastIndexOf(":");
    const address = local.slice(0, i).replace(/^\[|\]$/g, "").replace(/%.*$/, "");
    const process = f.slice(5).join(" ");
    const pids = [...process.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    out.push({ address, port: Number(local.slice(i + 1)), pids, process });
  }
  return out;
}

function isLoopback(address: string): boolean {
  return address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127.");
}

/** This process and every process under it (the system backend's ssh master among them). */
function ourPids(): Set<number> {
  const all = new Set([Deno.pid]);
  const todo = [Deno.pid];
  while (todo.length) {
    for (const c of childPids(todo.pop()!)) {
      if (!all.has(c)) {
        all.add(c);
        todo.push(c);
      }
    }
  }
  return all;
}

function show(ls: Listener[]): string {
  return ls.map((l) => `${l.address}:${l.port} ${l.process}`).join("\n");
}

/** Our listeners on this side: all on loopback, the hub's two among them. */
async function checkLocalSide(hub: Node): Promise<void> {
  const mine = ourPids();
  const ours = (await listeners()).filter((l) => l.pids.some((p) => mine.has(p)));
  assert.deepEqual(ours.filter((l) => !isLoopback(l.address)), [], show(ours));
  const ports = ours.map((l) => l.port);
  assert.ok(ports.includes(hub.port) && ports.includes(hub.registryPort), show(ours));
}

/** The server's listeners other than sshd's own port 22. */
async function serverListeners(host: NetnsHost): Promise<Listener[]> {
  return (await listeners(host.netns)).filter((l) => !l.pids.includes(host.pid));
}

// sshd's default ("no") and "clientspecified" (which honours the 127.0.0.1 Fusion asks for).
for (const gatewayPorts of [undefined, "clientspecified"]) {
  remoteTest(
    `every listening socket of Fusion and of sshd's tunnels is on 127.0.0.1, on both sides (both SSH backends${
      gatewayPorts ? `, GatewayPorts ${gatewayPorts}` : ""
    })`,
    {
      ignore: why !== undefined,
      deadlineMs: 120_000,
      startHost: () =>
        startNetnsHost(gatewayPorts ? { extraConfig: [`GatewayPorts ${gatewayPorts}`] } : {}),
    },
    async ({ host, hub, t }) => {
      const netHost = host as NetnsHost;
      for (const kind of BACKENDS) {
        await t.step(kind, async () => {
          const warnings: ConnectionWarning[] = [];
          const manager = new NodeManager(host.target({ sshBackend: kind }), {
            node: hub,
            output: () => {},
            onWarning: (w) => warnings.push(w),
          });
          try {
            const remote = await manager.connect();
            assert.equal(await remote.runFun((a: number) => a + 1, [41]), 42);
            await checkLocalSide(hub);
            const server = await serverListeners(netHost);
            assert.deepEqual(server.filter((l) => !isLoopback(l.address)), [], show(server));
            // The two reverse tunnels (sshd) and the agent's listener (deno) are there.
            assert.ok(server.filter((l) => l.process.includes('"sshd')).length >= 2, show(server));
            assert.ok(server.some((l) => l.process.includes('"deno"')), show(server));
            assert.deepEqual(warnings, []);
          } finally {
            await manager.disconnect();
          }
          assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 15_000 }), []);
        });
      }
    },
  );
}

/**
 * What a stranger reaching the exposed tunnel ports can do: nothing without a proof. `brief`:
 * one registration and one handshake (each refusal slows the next, up to 2 s).
 */
async function stranger(
  address: string,
  tunnels: { registry: number; hub: number; agentPort: number },
  hub: Node,
  agent: string,
  brief = false,
): Promise<void> {
  const wrongCookie: Credentials = { kind: "cookie", cookie: WRONG_COOKIE };
  const forgedTicket: Credentials = {
    kind: "ticket",
    name: agent,
    ticket: ticketFor(WRONG_COOKIE, agent),
  };
  const reg = {
    host: address,
    registryPort: tunnels.registry,
    limits: { handshakeTimeoutMs: 5000 },
  };
  // Register a name of its own, or the agent's.
  await assert.rejects(
    register("stranger@localhost", 4000, { ...reg, credentials: wrongCookie }),
    AuthenticationError,
  );
  if (!brief) {
    await assert.rejects(
      register(agent, 4000, { ...reg, credentials: forgedTicket }),
      (e) => e instanceof AuthenticationError || e instanceof NameTakenError,
    );
    // Look up and list: both need a proof.
    const query: RegistryQueryOptions = {
      host: address,
      port: tunnels.registry,
      credentials: wrongCookie,
    };
    const looked = await within(lookup(agent, query), 10_000, "lookup");
    const listed = await within(names(query), 10_000, "names");
    assert.ok(!looked.ok && looked.error instanceof AuthenticationError, String(looked));
    assert.ok(!listed.ok && listed.error instanceof AuthenticationError, String(listed));
  }
  // Handshake with the hub through its tunnel: a wrong cookie, a forged ticket.
  const dial = async (self: string, credentials: Credentials) => {
    const r = await within(
      tcpConnect(tunnels.hub, { host: address }).then((transport) =>
        openConnection(transport, {
          role: "initiator",
          self,
          creation: 7,
          credentials,
          peer: hub.name,
          handlers: new Recorder(),
        })
      ),
      10_000,
      `handshake as ${self}`,
    );
    assert.ok(!r.ok, `${self} got in`);
    assert.ok(r.error instanceof HandshakeRefusedError, `${self}: ${r.error}`);
  };
  await dial("stranger@localhost", wrongCookie);
  if (!brief) await dial(agent, forgedTicket);
  // The agent's own listener stays on the server's loopback.
  await assert.rejects(Deno.connect({ hostname: address, port: tunnels.agentPort }));
  // Nothing of the stranger's got registered.
  const ok: RegistryQueryOptions = {
    port: hub.registryPort,
    credentials: { kind: "cookie", cookie: COOKIE },
  };
  assert.equal(await lookup("stranger@localhost", ok), undefined);
}

remoteTest(
  "against an sshd with GatewayPorts yes, Fusion warns and strangers reaching the exposed tunnels get nothing (both SSH backends)",
  {
    ignore: why !== undefined,
    deadlineMs: 180_000,
    startHost: () => startNetnsHost({ extraConfig: ["GatewayPorts yes"] }),
  },
  async ({ host, hub, t }) => {
    const netHost = host as NetnsHost;
    await t.step("an error thrown by onWarning fails the connect, leaving nothing", async () => {
      const manager = new NodeManager(host.target(), {
        node: hub,
        output: () => {},
        onWarning: (w) => {
          throw new Error(`refused: ${w.code}`);
        },
      });
      await assert.rejects(manager.connect(), /refused: exposed_tunnels/);
      assert.equal(manager.status(), "disconnected");
      assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 15_000 }), []);
    });
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const warnings: ConnectionWarning[] = [];
        const lines: string[] = [];
        // ssh2: an onWarning callback; system: the default, console.warn.
        const warn = console.warn;
        if (kind === "system") console.warn = (...a: unknown[]) => lines.push(a.join(" "));
        const manager = new NodeManager(host.target({ sshBackend: kind }), {
          node: hub,
          output: () => {},
          ...(kind === "ssh2" ? { onWarning: (w: ConnectionWarning) => warnings.push(w) } : {}),
        });
        try {
          const remote = await manager.connect().finally(() => console.warn = warn);
          if (kind === "system") {
            assert.equal(lines.length, 1, lines.join("\n"));
            assert.match(lines[0]!, /GatewayPorts yes/);
            assert.ok(lines[0]!.includes(remote.name), lines[0]);
          } else {
            assert.equal(warnings.length, 1, JSON.stringify(warnings));
            const w = warnings[0]!;
            assert.equal(w.code, "exposed_tunnels");
            assert.equal(w.node, remote.name);
            assert.equal(w.host, host.host);
          }
          // What sshd really bound beyond loopback: the two tunnels, and only they.
          const server = await serverListeners(netHost);
          const exposed = server.filter((l) => !isLoopback(l.address));
          const exposedPorts = [...new Set(exposed.map((l) => l.port))].sort((a, b) => a - b);
          assert.equal(exposedPorts.length, 2, show(server));
          assert.ok(exposed.every((l) => l.process.includes('"sshd')), show(server));
          const agentListener = server.find((l) => l.process.includes('"deno"'));
          assert.ok(agentListener && isLoopback(agentListener.address), show(server));
          await checkLocalSide(hub);

          let tunnels: { registry: number; hub: number; agentPort: number };
          if (kind === "ssh2") {
            const w = warnings[0]!;
            assert.deepEqual(
              [...new Set(w.tunnels.map((x) => x.port))].sort((a, b) => a - b),
              exposedPorts,
            );
            assert.ok(w.tunnels.some((x) => x.address === "0.0.0.0"), JSON.stringify(w));
            const port = (name: "registry" | "hub") =>
              w.tunnels.find((x) => x.tunnel === name)!.port;
            tunnels = {
              registry: port("registry"),
              hub: port("hub"),
              agentPort: agentListener.port,
            };
          } else {
            // The message names each port with its tunnel.
            const port = (name: string) =>
              Number(new RegExp(`(\\d+) \\(${name}\\)`).exec(lines[0]!)?.[1]);
            tunnels = {
              registry: port("registry"),
              hub: port("hub"),
              agentPort: agentListener.port,
            };
            assert.deepEqual([tunnels.registry, tunnels.hub].sort((a, b) => a - b), exposedPorts);
          }

          await stranger(host.host, tunnels, hub, remote.name, kind === "system");

          // The real connection is untouched and still works; no second warning.
          assert.equal(await remote.runFun((a: number) => a * 2, [21]), 42);
          assert.ok(hub.nodes().includes(remote.name));
          assert.equal(warnings.length + lines.length, 1);
        } finally {
          console.warn = warn;
          await manager.disconnect();
        }
        assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 15_000 }), []);
      });
    }
  },
);
