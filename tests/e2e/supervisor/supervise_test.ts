// Supervisors across hosts: two sshd hosts, each in its own network namespace
// (two sshd hosts on 127.0.0.1 where namespaces are unavailable).
import assert from "node:assert/strict";
import type { Inbox } from "../../../src/actor/types.ts";
import { RemoteError } from "../../../src/errors.ts";
import { Node } from "../../../src/node.ts";
import {
  type ChildSpec,
  supervise,
  type Supervisor,
  type SupervisorEvent,
} from "../../../src/supervisor/mod.ts";
import type { Pid } from "../../../src/wire/pid.ts";
import {
  type NetnsHost,
  netnsUnavailable,
  type SshdHost,
  sshdUnavailable,
  startNetnsHost,
  startSshd,
} from "../../support/mod.ts";

const TICK_MS = 2000;
const WORKERS = new URL("../../fixtures/supervisor/workers.ts", import.meta.url);

const noSshd = await sshdUnavailable();
const noNetns = await netnsUnavailable();
if (!noSshd && noNetns) {
  console.error(
    `\n!!!!! supervisor e2e: no network namespaces (${noNetns}); using two sshd hosts on 127.0.0.1, link cuts skipped !!!!!\n`,
  );
}

interface World {
  a: SshdHost;
  b: SshdHost;
  hub: Node;
  dir: Directory;
  events: SupervisorEvent[];
  t: Deno.TestContext;
}

/** A test with two hosts, a hub and a directory actor on it; all torn down whatever happens. */
function twoHostTest(name: string, fn: (w: World) => Promise<void>, deadlineMs = 180_000): void {
  Deno.test({
    name,
    ignore: noSshd !== undefined,
    // ssh2 and sshd leave timers and sockets that end shortly after the test.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      const start = () => noNetns ? startSshd() : startNetnsHost();
      const hosts: SshdHost[] = [];
      let hub: Node | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        hosts.push(await start(), await start());
        hub = await Node.start({
          name: `hub-${crypto.randomUUID().slice(0, 6)}`,
          registryPort: 0,
          tickTimeoutMs: TICK_MS,
        });
        const inbox = hub.inbox();
        hub.register("directory", inbox.self);
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`test took over ${deadlineMs} ms`)),
            deadlineMs,
          );
        });
        const world: World = {
          a: hosts[0]!,
          b: hosts[1]!,
          hub,
          dir: new Directory(inbox, hub.name),
          events: [],
          t,
        };
        await Promise.race([fn(world), deadline]);
      } finally {
        clearTimeout(timer);
        await hub?.close();
        for (const h of hosts) await h.stop();
      }
    },
  });
}

/** The hub's directory: the hellos and byes that remote actors send. */
class Directory {
  constructor(readonly inbox: Inbox, readonly hubName: string) {}

  get address(): [string, string] {
    return ["directory", this.hubName];
  }

  /** The hello from child `id` running as `pid`. */
  hello(id: string, pid: Pid, timeoutMs = 30_000): Promise<{ node: string }> {
    return this.inbox.receive({
      match: (m) => {
        const h = m as { type?: string; id?: string; pid?: Pid };
        return h?.type === "hello" && h.id === id && pid.equals(h.pid);
      },
      timeoutMs,
    });
  }

  /** The next bye from child `id`. */
  bye(id: string, timeoutMs = 10_000): Promise<{ pid: Pid; reason: unknown }> {
    return this.inbox.receive({
      match: (m) =>
        (m as { type?: string; id?: string })?.type === "bye" && (m as { id: string }).id === id,
      timeoutMs,
    });
  }
}

function connection() {
  return { tickTimeoutMs: TICK_MS, connectTimeoutMs: 5000 };
}

/** Waits until child `id` runs on a node other than `notOn`; returns its pid and node. */
async function restarted(
  sup: Supervisor,
  id: string,
  notOn: string | undefined,
  timeoutMs = 60_000,
): Promise<{ pid: Pid; node: string }> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const c = sup.children().find((k) => k.id === id);
    if (c?.status === "running" && c.pid && c.node && c.node !== notOn) {
      return { pid: c.pid, node: c.node };
    }
    if (Date.now() > end) throw new Error(`${id} was not restarted: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function child(sup: Supervisor, id: string): { pid: Pid; node: string } {
  const c = sup.children().find((k) => k.id === id);
  assert.ok(c?.pid && c.node, `${id} runs`);
  return { pid: c.pid, node: c.node };
}

let relayN = 0;

/** Has the pinger ping the ponger (host to host, through the hub) and checks the answer. */
async function relay(w: World, sup: Supervisor): Promise<void> {
  const pinger = child(sup, "pinger");
  const ponger = child(sup, "ponger");
  const n = ++relayN;
  using inbox = w.hub.inbox();
  w.hub.send(pinger.pid, { type: "relay", to: ponger.pid, n, replyTo: inbox.self });
  const r = await inbox.receive<{ via: string; pong: { n: number; node: string } | null }>({
    match: (m) => (m as { type?: string })?.type === "relayed",
    timeoutMs: 15_000,
  });
  assert.equal(r.via, pinger.node);
  assert.deepEqual(r.pong, { type: "pong", n, node: ponger.node });
}

function specs(w: World, trap = false): ChildSpec[] {
  return [
    {
      id: "ponger",
      module: WORKERS,
      fn: "ponger",
      args: [w.dir.address, "ponger"],
      target: w.b.target(),
    },
    {
      id: "ponger2",
      module: WORKERS,
      fn: "ponger",
      args: [w.dir.address, "ponger2"],
      target: w.b.target(),
    },
    {
      id: "pinger",
      module: WORKERS,
      fn: "pinger",
      args: [w.dir.address, "pinger", trap],
      target: w.a.target(),
    },
  ];
}

async function agentPid(hub: Node, nodeName: string): Promise<number> {
  const info = await hub.request(nodeName, "info", null, { timeoutMs: 5000 }) as { pid: number };
  return info.pid;
}

async function insideVeth(host: NetnsHost): Promise<string> {
  const links = await host.execInNetns("ip", ["-o", "link", "show"]);
  const inside = /^\d+:\s+(fz[0-9a-f]+b)@/m.exec(links.stdout)?.[1];
  assert.ok(inside, links.stdout);
  return inside;
}

function waitForEvent(
  w: World,
  pred: (e: SupervisorEvent) => boolean,
  timeoutMs = 60_000,
): Promise<SupervisorEvent> {
  const end = Date.now() + timeoutMs;
  return (async () => {
    for (;;) {
      const e = w.events.find(pred);
      if (e) return e;
      if (Date.now() > end) throw new Error("the expected supervisor event did not come");
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
}

twoHostTest(
  "a tree over two hosts recovers from a killed agent, a cut link and killed sessions, and its remote actors talk host to host through the hub",
  async (w) => {
    const sup = await supervise(specs(w), {
      node: w.hub,
      strategy: "one_for_one",
      // Three node losses below; a loss counted once per child would be five.
      intensity: 3,
      periodMs: 600_000,
      connection: connection(),
      reconnect: { initialMs: 200, maxMs: 2000 },
      onEvent: (e) => w.events.push(e),
    });
    try {
      for (const id of ["ponger", "ponger2", "pinger"]) await w.dir.hello(id, child(sup, id).pid);
      const bNode = child(sup, "ponger").node;
      const aNode = child(sup, "pinger").node;
      assert.equal(child(sup, "ponger2").node, bNode, "children on one target share its manager");
      assert.ok(bNode.startsWith(`${w.b.host}-`) && aNode.startsWith(`${w.a.host}-`));
      // The agents' only peer is the hub: host A reaches host B through it.
      assert.deepEqual(new Set(w.hub.nodes()), new Set([aNode, bNode]));
      await relay(w, sup);

      await w.t.step(
        "kill -9 of host B's agent: its children come back on a new agent",
        async () => {
          Deno.kill(await agentPid(w.hub, bNode), "SIGKILL");
          const p = await restarted(sup, "ponger", bNode);
          const p2 = await restarted(sup, "ponger2", bNode);
          assert.notEqual(p.node, bNode);
          assert.equal(p2.node, p.node);
          await w.dir.hello("ponger", p.pid);
          await w.dir.hello("ponger2", p2.pid);
          assert.equal(child(sup, "pinger").node, aNode, "host A's child was left alone");
          const exits = w.events.filter((e) =>
            e.type === "child_exited" && e.id.startsWith("ponger")
          );
          assert.deepEqual(
            exits.map((e) => e.type === "child_exited" && e.reason),
            ["noconnection", "noconnection"],
          );
          await relay(w, sup);
        },
      );

      if (!noNetns) {
        await w.t.step(
          "cut host A's link: retried while unreachable, restarted once it is back",
          async () => {
            const host = w.a as NetnsHost;
            const veth = await insideVeth(host);
            const before = child(sup, "pinger").node;
            w.events.length = 0;
            const cut = await host.execInNetns("ip", ["link", "set", veth, "down"]);
            assert.equal(cut.code, 0, cut.stderr);
            try {
              const exit = await waitForEvent(
                w,
                (e) => e.type === "child_exited" && e.id === "pinger",
              );
              assert.equal(exit.type === "child_exited" && exit.reason, "noconnection");
              await waitForEvent(w, (e) => e.type === "node_unreachable");
              assert.equal(child(sup, "ponger").node !== undefined, true);
              assert.equal(
                sup.children().find((k) => k.id === "pinger")?.status,
                "waiting_for_node",
              );
            } finally {
              await host.execInNetns("ip", ["link", "set", veth, "up"]);
            }
            const p = await restarted(sup, "pinger", before);
            await w.dir.hello("pinger", p.pid);
            await relay(w, sup);
          },
        );
      }

      await w.t.step("kill host B's sshd sessions: restarted on a new agent", async () => {
        const before = child(sup, "ponger").node;
        await w.b.killSessions();
        const p = await restarted(sup, "ponger", before);
        const p2 = await restarted(sup, "ponger2", before);
        await w.dir.hello("ponger", p.pid);
        await w.dir.hello("ponger2", p2.pid);
        await relay(w, sup);
      });

      assert.ok(sup.running, "the supervisor stayed within its intensity");
      assert.deepEqual(sup.children().map((k) => k.restarts), [2, 2, noNetns ? 0 : 1]);
    } finally {
      await sup.terminate();
    }
    assert.deepEqual(await sup.done, { reason: "shutdown", cause: "terminated" });
    // The managers the supervisor made are disconnected: nothing is left on the servers.
    assert.deepEqual(await w.a.waitForNoProcesses({ timeoutMs: 10_000 }), []);
    assert.deepEqual(await w.b.waitForNoProcesses({ timeoutMs: 10_000 }), []);
    assert.deepEqual(w.hub.nodes(), []);
  },
);

twoHostTest(
  "one_for_all over two hosts: losing host B's agent restarts host A's child too, after B's",
  async (w) => {
    const sup = await supervise(specs(w, true), {
      node: w.hub,
      strategy: "one_for_all",
      intensity: 2,
      periodMs: 600_000,
      connection: connection(),
      reconnect: { initialMs: 200, maxMs: 2000 },
      onEvent: (e) => w.events.push(e),
    });
    try {
      const aBefore = child(sup, "pinger");
      const bNode = child(sup, "ponger").node;
      await w.dir.hello("pinger", aBefore.pid);
      Deno.kill(await agentPid(w.hub, bNode), "SIGKILL");
      const bye = await w.dir.bye("pinger");
      assert.equal(bye.reason, "shutdown");
      const p = await restarted(sup, "ponger", bNode);
      const a = await restarted(sup, "pinger", undefined);
      assert.ok(!a.pid.equals(aBefore.pid), "host A's child was restarted");
      assert.equal(a.node, aBefore.node, "on the same agent: its node never went down");
      await w.dir.hello("ponger", p.pid);
      await w.dir.hello("pinger", a.pid);
      const started = w.events.filter((e) => e.type === "child_started" && e.restart);
      assert.deepEqual(
        started.map((e) => e.type === "child_started" && e.id),
        ["ponger", "ponger2", "pinger"],
      );
      await relay(w, sup);
    } finally {
      await sup.terminate();
    }
  },
);

twoHostTest(
  "a node that keeps going down exhausts the intensity: the supervisor gives up and leaves nothing on the servers",
  async (w) => {
    const sup = await supervise(specs(w), {
      node: w.hub,
      intensity: 1,
      periodMs: 600_000,
      connection: connection(),
      reconnect: { initialMs: 200, maxMs: 2000 },
      onEvent: (e) => w.events.push(e),
    });
    const first = child(sup, "pinger").node;
    Deno.kill(await agentPid(w.hub, first), "SIGKILL");
    const second = (await restarted(sup, "pinger", first)).node;
    Deno.kill(await agentPid(w.hub, second), "SIGKILL");
    assert.deepEqual(await sup.done, {
      reason: "shutdown",
      cause: "reached_max_restart_intensity",
    });
    assert.ok(w.events.some((e) => e.type === "gave_up" && e.id === "pinger"));
    assert.deepEqual(await w.a.waitForNoProcesses({ timeoutMs: 10_000 }), []);
    assert.deepEqual(await w.b.waitForNoProcesses({ timeoutMs: 10_000 }), []);
  },
);

twoHostTest(
  "supervise rejects a remote child whose export does not exist, and disconnects what it connected",
  async (w) => {
    await assert.rejects(
      supervise([
        {
          id: "ok",
          module: WORKERS,
          fn: "ponger",
          args: [w.dir.address, "ok"],
          target: w.a.target(),
        },
        { id: "bad", module: WORKERS, fn: "nope", target: w.b.target() },
      ], { node: w.hub, connection: connection() }),
      (e: unknown) => e instanceof RemoteError && /nope/.test(e.message),
    );
    assert.deepEqual(await w.a.waitForNoProcesses({ timeoutMs: 10_000 }), []);
    assert.deepEqual(await w.b.waitForNoProcesses({ timeoutMs: 10_000 }), []);
  },
);

twoHostTest(
  "a child that cannot be started again is retried, each attempt counting, until the supervisor gives up",
  async (w) => {
    const dir = await Deno.makeTempDir({ prefix: "fusion-sup-" });
    try {
      const module = `${dir}/idle.ts`;
      await Deno.writeTextFile(
        module,
        "export async function idle(ctx: { receive(): Promise<unknown> }) {\n  for (;;) await ctx.receive();\n}\n",
      );
      const sup = await supervise([{ id: "idle", module, fn: "idle", target: w.a.target() }], {
        node: w.hub,
        intensity: 3,
        periodMs: 600_000,
        connection: connection(),
        onEvent: (e) => w.events.push(e),
      });
      const node = child(sup, "idle").node;
      // The module no longer builds: every restart fails before it reaches the server.
      await Deno.writeTextFile(module, "export function idle( {\n");
      Deno.kill(await agentPid(w.hub, node), "SIGKILL");
      assert.deepEqual(await sup.done, {
        reason: "shutdown",
        cause: "reached_max_restart_intensity",
      });
      // One restart for the exit, then failed attempts until the fourth count.
      const failed = w.events.filter((e) => e.type === "child_start_failed");
      assert.equal(failed.length, 3);
      assert.ok(w.events.some((e) => e.type === "gave_up"));
      assert.deepEqual(await w.a.waitForNoProcesses({ timeoutMs: 10_000 }), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
