import assert from "node:assert/strict";
import type { DownMessage } from "../../../src/actor/types.ts";
import { NodeDownError } from "../../../src/errors.ts";
import type { Node } from "../../../src/node.ts";
import { NodeManager, type RemoteNode } from "../../../src/remote/mod.ts";
import type { SshBackendKind } from "../../../src/ssh/mod.ts";
import { netnsUnavailable, type SshdHost, startNetnsHost } from "../../support/mod.ts";
import { BACKENDS, hostTest, localDescendants, userPidsMatching } from "./_helpers.ts";

const TICK_MS = 2000;
const TRANSPORTS = ["auto", "stdio"] as const;

function pidAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !"ZX".includes(stat.slice(stat.lastIndexOf(")") + 2)[0] ?? "");
  } catch {
    return false;
  }
}

/** Waits until host:port accepts TCP connections (a link just brought up takes a moment). */
async function untilReachable(hostname: string, port: number): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      (await Deno.connect({ hostname, port })).close();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Starts `sleep 300` on the server from user code (runFun): it lives in the agent's process group. */
function startSleep(remote: RemoteNode): Promise<number> {
  return remote.runFun(() =>
    new Deno.Command("sleep", { args: ["300"], stdin: "null", stdout: "null", stderr: "null" })
      .spawn().pid
  );
}

/** Watches the agent's system actor from the hub. */
function watchAgent(hub: Node, remote: RemoteNode) {
  const inbox = hub.inbox();
  const ref = inbox.monitor(["fusion", remote.name]);
  return {
    inbox,
    down: () =>
      inbox.receive<DownMessage>({
        match: (m) => (m as DownMessage).type === "DOWN",
        timeoutMs: TICK_MS * 2 + 3000,
      }).then((m) => {
        assert.equal(m.ref.equals(ref), true);
        return m;
      }),
  };
}

async function afterDrop(
  host: SshdHost,
  manager: NodeManager,
  remote: RemoteNode,
  hub: Node,
  kind: SshBackendKind,
): Promise<void> {
  assert.equal(manager.status(), "disconnected");
  await assert.rejects(remote.ping({ timeoutMs: 5000 }), NodeDownError);
  await assert.rejects(remote.info({ timeoutMs: 5000 }), NodeDownError);
  await manager.disconnect(); // waits for the dropped connection's teardown
  const left = await host.waitForNoProcesses({ timeoutMs: 10_000 });
  assert.deepEqual(left, [], `${kind}: left on the server after the drop\n${host.logs()}`);
  const again = await manager.connect();
  assert.notEqual(again.name, remote.name, "a new connection gets a new name");
  assert.equal((await again.info()).node, again.name);
  await manager.disconnect();
  assert.ok(!hub.nodes().includes(again.name));
  assert.deepEqual(await host.waitForNoProcesses(), [], `${kind}: left on the server`);
}

hostTest(
  "kill -9 of the agent gives DOWN noconnection to a monitor of its system actor, rejects requests, and a new connect() works",
  { tickTimeoutMs: TICK_MS, deadlineMs: 120_000 },
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      for (const transport of TRANSPORTS) {
        await t.step(`${kind}, transport ${transport}`, async () => {
          const manager = new NodeManager(host.target({ sshBackend: kind }), {
            node: hub,
            tickTimeoutMs: TICK_MS,
            transport,
          });
          const remote = await manager.connect();
          const { pid } = await remote.info();
          const watch = watchAgent(hub, remote);
          // A request that the agent never answers: pending when it dies.
          const pending = remote.runFun(() => new Promise(() => {}), [], { timeoutMs: 60_000 });
          await new Promise((r) => setTimeout(r, 100));
          Deno.kill(pid, "SIGKILL");
          const down = await watch.down();
          assert.equal(down.reason, "noconnection");
          await assert.rejects(pending, NodeDownError);
          watch.inbox.close();
          await afterDrop(host, manager, remote, hub, kind);
        });
      }
    }
  },
);

hostTest(
  "killing the server's sshd session gives DOWN noconnection and leaves nothing on the server",
  { tickTimeoutMs: TICK_MS, deadlineMs: 120_000 },
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      for (const transport of TRANSPORTS) {
        await t.step(`${kind}, transport ${transport}`, async () => {
          const manager = new NodeManager(host.target({ sshBackend: kind }), {
            node: hub,
            tickTimeoutMs: TICK_MS,
            transport,
          });
          const remote = await manager.connect();
          const sleepPid = await startSleep(remote);
          const watch = watchAgent(hub, remote);
          await host.killSessions();
          const down = await watch.down();
          assert.equal(down.reason, "noconnection");
          watch.inbox.close();
          // The agent saw EOF on stdin and took its process group with it.
          assert.deepEqual(
            await host.waitForNoProcesses({ timeoutMs: TICK_MS * 2 + 3000 }),
            [],
          );
          assert.equal(pidAlive(sleepPid), false);
          await afterDrop(host, manager, remote, hub, kind);
        });
      }
    }
  },
);

hostTest(
  "disconnect() kills the process group of what user code started on the server",
  {},
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const manager = new NodeManager(host.target({ sshBackend: kind }), { node: hub });
        const remote = await manager.connect();
        const sleepPid = await startSleep(remote);
        assert.ok((await userPidsMatching(host, "sleep 300")).includes(sleepPid));
        await manager.disconnect();
        assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 3000 }), []);
      });
    }
  },
);

hostTest(
  "a SIGKILLed local process leaves no agent, no user process and no ssh master behind",
  { deadlineMs: 120_000 },
  async ({ host, t }) => {
    const child = new URL("./_connect_child.ts", import.meta.url);
    for (const kind of BACKENDS) {
      for (const transport of TRANSPORTS) {
        await t.step(`${kind}, transport ${transport}`, async () => {
          const proc = new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", child.pathname],
            stdin: "piped",
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          let killed = false;
          try {
            const w = proc.stdin.getWriter();
            await w.write(new TextEncoder().encode(JSON.stringify({
              target: host.target({ sshBackend: kind }),
              tickTimeoutMs: TICK_MS,
              transport,
            })));
            await w.close();
            const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
            let line = "";
            while (!line.includes("\n")) {
              const { value, done } = await reader.read();
              if (done) {
                const err = await new Response(proc.stderr).text();
                throw new Error(`the child ended before connecting:\n${err}`);
              }
              line += value;
            }
            const ready = JSON.parse(line) as { agentPid: number; sleepPid: number };
            assert.ok(pidAlive(ready.agentPid) && pidAlive(ready.sleepPid));
            const sshProcs = localDescendants([], proc.pid);
            if (kind === "system") assert.ok(sshProcs.length > 0, "the child runs ssh");
            Deno.kill(proc.pid, "SIGKILL");
            killed = true;
            await proc.status;
            reader.cancel().catch(() => {});
            proc.stderr.cancel().catch(() => {});
            assert.deepEqual(
              await host.waitForNoProcesses({ timeoutMs: TICK_MS * 2 + 5000 }),
              [],
              "left on the server",
            );
            const left = sshProcs.filter((p) => pidAlive(p.pid));
            assert.deepEqual(left, [], "ssh processes outlived the local process");
          } finally {
            if (!killed) {
              try {
                Deno.kill(proc.pid, "SIGKILL");
              } catch { /* gone */ }
              await proc.status;
              proc.stdout.cancel().catch(() => {});
              proc.stderr.cancel().catch(() => {});
            }
          }
        });
      }
    }
  },
);

const noNetns = await netnsUnavailable();
if (noNetns) console.error(`\n!!!!! silent-cut test skipped: ${noNetns} !!!!!\n`);

hostTest(
  "a silently cut link ticks out on both sides: DOWN noconnection here, the agent and its children exit there",
  {
    tickTimeoutMs: TICK_MS,
    deadlineMs: 120_000,
    ignore: noNetns !== undefined,
    startHost: () => startNetnsHost(),
  },
  async ({ host, hub, t }) => {
    const netHost = host as Awaited<ReturnType<typeof startNetnsHost>>;
    const links = await netHost.execInNetns("ip", ["-o", "link", "show"]);
    const inside = /^\d+:\s+(fz[0-9a-f]+b)@/m.exec(links.stdout)?.[1];
    assert.ok(inside, links.stdout);
    let step = 0;
    for (const kind of BACKENDS) {
      for (const transport of TRANSPORTS) {
        await t.step(`${kind}, transport ${transport}`, async () => {
          if (step++ > 0) {
            await netHost.execInNetns("ip", ["link", "set", inside, "up"]);
            await untilReachable(host.host, host.port);
          }
          const manager = new NodeManager(host.target({ sshBackend: kind }), {
            node: hub,
            tickTimeoutMs: TICK_MS,
            transport,
          });
          const remote = await manager.connect();
          const { pid } = await remote.info();
          const sleepPid = await startSleep(remote);
          const watch = watchAgent(hub, remote);
          const cut = await netHost.execInNetns("ip", ["link", "set", inside, "down"]);
          assert.equal(cut.code, 0, cut.stderr);
          const t0 = performance.now();
          const down = await watch.down();
          assert.equal(down.reason, "noconnection");
          watch.inbox.close();
          const deadline = t0 + TICK_MS * 2 + 3000;
          while ((pidAlive(pid) || pidAlive(sleepPid)) && performance.now() < deadline) {
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.equal(pidAlive(pid), false, "the agent ticked out and exited");
          assert.equal(pidAlive(sleepPid), false, "its process group went with it");
          assert.equal(manager.status(), "disconnected");
          await assert.rejects(remote.ping({ timeoutMs: 5000 }), NodeDownError);
          await manager.disconnect();
          // sshd itself has not noticed (it would after TCP keepalive): only Fusion's processes count.
          assert.deepEqual(await userPidsMatching(host, "agent-"), []);
        });
      }
    }
  },
);
