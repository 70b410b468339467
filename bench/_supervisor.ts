/**
 * Supervisors: the time from a child's crash to its restarted child answering a
 * ping, for a local child, a remote child (the remote actor throws: restarted on
 * the same agent), and a remote child whose agent is SIGKILLed (node down,
 * reconnect, a new agent, restart). Baselines, measured in the same run, are the
 * same start done by hand without a supervisor: spawn + first answer, locally,
 * remotely, and connect + remote spawn + first answer.
 * @module
 */
import type { Inbox } from "../src/actor/types.ts";
import type { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import { supervise, type Supervisor } from "../src/supervisor/mod.ts";
import type { Pid } from "../src/wire/pid.ts";
import type { SshdHost } from "../tests/support/mod.ts";
import type { Report } from "./_row.ts";
import { worker } from "./_sup_worker.ts";
import { summarize, type Summary } from "./_stats.ts";

/** Options for {@linkcode benchSupervisor}. */
export interface SupervisorBenchOptions {
  quick: boolean;
  report: Report;
}

const WORKER = new URL("./_sup_worker.ts", import.meta.url);
const WAIT_MS = 60_000;

interface Hello {
  type: "hello";
  id: string;
  pid: Pid;
}

/** The hello of child `id`, from a pid other than `not`. */
function hello(inbox: Inbox, id: string, not?: Pid): Promise<Hello> {
  return inbox.receive<Hello>({
    match: (m) => {
      const h = m as Partial<Hello>;
      return h?.type === "hello" && h.id === id && !!h.pid && !(not && not.equals(h.pid));
    },
    timeoutMs: WAIT_MS,
  });
}

/** One ping round trip to `pid`. */
async function answer(hub: Node, inbox: Inbox, pid: Pid, id: string): Promise<void> {
  hub.send(pid, { type: "ping", from: inbox.self });
  await inbox.receive({
    match: (m) => (m as { type?: string; id?: string })?.type === "pong" && (m as Hello).id === id,
    timeoutMs: WAIT_MS,
  });
}

/**
 * Waits until the supervisor lists child `id` as running as `pid`: a restarted
 * child says hello (and answers) before the supervisor's spawn reply and link
 * are done, and the next crash should find the supervisor settled.
 */
async function settled(sup: Supervisor, id: string, pid: Pid): Promise<{ node: string }> {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const c = sup.children().find((k) => k.id === id);
    if (c?.status === "running" && c.node && c.pid?.equals(pid)) return { node: c.node };
    if (Date.now() > end) throw new Error(`child ${id} did not settle: ${JSON.stringify(c)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The "supervisors" section, against `host` (a host with Deno). */
export async function benchSupervisor(
  host: SshdHost,
  hub: Node,
  options: SupervisorBenchOptions,
): Promise<void> {
  const { report, quick } = options;
  const n = quick ? { local: 5, remote: 3, down: 1 } : { local: 50, remote: 20, down: 5 };
  const section = "supervisors";
  const inbox = hub.inbox();
  const started = async (id: string, start: () => unknown | Promise<unknown>) => {
    const t0 = performance.now();
    await start();
    const h = await hello(inbox, id);
    await answer(hub, inbox, h.pid, id);
    const ms = performance.now() - t0;
    hub.send(h.pid, { type: "stop" });
    return ms;
  };
  let sup: Supervisor | undefined;
  const baseRemote = await new NodeManager(host.target(), { node: hub }).connect();
  try {
    // Baselines: the same starts by hand.
    report.log(
      `  by hand: ${n.local} local spawns, ${n.remote} remote spawns, ${n.down} connect + spawn`,
    );
    await started("warm", () => baseRemote.spawn(WORKER, "worker", [inbox.self, "warm"]));
    const localSpawn: number[] = [];
    const remoteSpawn: number[] = [];
    const connectSpawn: number[] = [];
    for (let i = 0; i < n.local; i++) {
      localSpawn.push(await started("b-local", () => hub.spawn(worker, inbox.self, "b-local")));
    }
    for (let i = 0; i < n.remote; i++) {
      remoteSpawn.push(
        await started(
          "b-remote",
          () => baseRemote.spawn(WORKER, "worker", [inbox.self, "b-remote"]),
        ),
      );
    }
    for (let i = 0; i < n.down; i++) {
      const m = new NodeManager(host.target(), { node: hub });
      connectSpawn.push(
        await started("b-conn", async () => {
          const r = await m.connect();
          await r.spawn(WORKER, "worker", [inbox.self, "b-conn"]);
        }),
      );
      await m.disconnect();
    }

    // Supervised: crash, then time until the restarted child answers.
    const events: { type: string; t: number }[] = [];
    sup = await supervise([
      { id: "local", fn: worker, args: [inbox.self, "s-local"] },
      {
        id: "remote",
        module: WORKER,
        fn: "worker",
        args: [inbox.self, "s-remote"],
        target: host.target(),
      },
    ], {
      node: hub,
      intensity: 1_000_000,
      periodMs: 1000,
      // The remote child's events, and node_connected (which has no id).
      onEvent: (e) => {
        if (!("id" in e) || e.id === "remote") events.push({ type: e.type, t: now() });
      },
    });
    const pids = {
      local: (await hello(inbox, "s-local")).pid,
      remote: (await hello(inbox, "s-remote")).pid,
    };
    const crashSteps = { noticed: [] as number[], started: [] as number[] };
    const crash = async (which: "local" | "remote"): Promise<number> => {
      const id = `s-${which}`;
      await settled(sup!, which, pids[which]);
      events.length = 0;
      const t0 = now();
      hub.send(pids[which], { type: "crash" });
      const h = await hello(inbox, id, pids[which]);
      await answer(hub, inbox, h.pid, id);
      const ms = now() - t0;
      pids[which] = h.pid;
      await settled(sup!, which, h.pid); // its child_started may come after its answer
      if (which === "remote") {
        const exited = events.find((e) => e.type === "child_exited")?.t ?? NaN;
        crashSteps.noticed.push(exited - t0);
        crashSteps.started.push(
          (events.find((e) => e.type === "child_started")?.t ?? NaN) - exited,
        );
      }
      return ms;
    };
    report.log(`  supervised: ${n.local} local crashes, ${n.remote} remote, ${n.down} agent kills`);
    const localCrash: number[] = [];
    const remoteCrash: number[] = [];
    for (let i = 0; i < n.local; i++) localCrash.push(await crash("local"));
    for (let i = 0; i < n.remote; i++) remoteCrash.push(await crash("remote"));

    const down: number[] = [];
    const steps: Record<"noticed" | "reconnected" | "spawned", number[]> = {
      noticed: [],
      reconnected: [],
      spawned: [],
    };
    for (let i = 0; i < n.down; i++) {
      const child = await settled(sup, "remote", pids.remote);
      const info = await hub.request(child.node, "info", null, { timeoutMs: 10_000 }) as {
        pid: number;
      };
      events.length = 0;
      const t0 = now();
      Deno.kill(info.pid, "SIGKILL");
      const h = await hello(inbox, "s-remote", pids.remote);
      await answer(hub, inbox, h.pid, "s-remote");
      down.push(now() - t0);
      pids.remote = h.pid;
      await settled(sup, "remote", h.pid);
      const at = (type: string) => events.find((e) => e.type === type)?.t ?? NaN;
      const exited = at("child_exited");
      const connected = at("node_connected");
      steps.noticed.push(exited - t0);
      steps.reconnected.push(connected - exited);
      steps.spawned.push(at("child_started") - connected);
    }

    const row = (
      name: string,
      xs: number[],
      base: Summary,
      baseName: string,
      note?: string,
    ) => {
      const s = summarize(xs);
      report.add({
        section,
        case: `${name} p50`,
        fusion: s.p50,
        unit: "ms",
        baseline: { name: baseName, value: base.p50 },
        ratio: s.p50 / base.p50,
        ...(note ? { note } : {}),
        detail: { restart: s, baseline: base },
      });
    };
    row(
      "local child crashes → restarted child answers",
      localCrash,
      summarize(localSpawn),
      "node.spawn + first answer",
    );
    row(
      "remote child crashes → restarted child answers",
      remoteCrash,
      summarize(remoteSpawn),
      "remote spawn + first answer",
    );
    report.add({
      section,
      case: "  of which crash noticed (send → child_exited) p50",
      fusion: summarize(crashSteps.noticed).p50,
      unit: "ms",
      detail: crashSteps.noticed,
    });
    report.add({
      section,
      case: "  of which restart: spawn + link (→ child_started) p50",
      fusion: summarize(crashSteps.started).p50,
      unit: "ms",
      detail: crashSteps.started,
    });
    row(
      "remote child's agent SIGKILLed → restarted on a new agent, answers",
      down,
      summarize(connectSpawn),
      "connect + remote spawn + first answer",
    );
    for (
      const [k, label] of [
        ["noticed", "node down noticed (kill → child_exited)"],
        ["reconnected", "reconnect: a new agent (→ node_connected)"],
        ["spawned", "spawn on it (→ child_started)"],
      ] as const
    ) {
      report.add({
        section,
        case: `  of which ${label} p50`,
        fusion: summarize(steps[k]).p50,
        unit: "ms",
        detail: steps[k],
      });
    }
  } finally {
    await sup?.terminate();
    await baseRemote.close();
    inbox.close();
  }
}

function now(): number {
  return performance.now();
}
