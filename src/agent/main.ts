/**
 * The agent: what runs on the server. It reads its configuration from stdin,
 * joins as a node whose only peer is its hub, serves requests, and exits when
 * stdin closes or the hub goes quiet, taking its process group with it.
 * @module
 */
import { Node } from "../node.ts";
import { Codec } from "../wire/codec.ts";
import {
  AGENT_EXIT_OLD_DENO,
  type AgentConfig,
  MIN_DENO_VERSION,
  parseAgentConfig,
  versionAtLeast,
} from "./agent_config.ts";
import { registerAgentServices } from "./services.ts";
import { StdioChannel } from "./stdio.ts";
import { startSystemActor } from "./system_actor.ts";
import { exposedListeners } from "./exposed_listeners.ts";

/** How long the agent waits for its hub to connect before giving up. */
const HUB_CONNECT_TIMEOUT_MS = 30_000;
/** How long the agent waits for its node to close before exiting anyway. */
const CLOSE_WAIT_MS = 2000;

/** Runs the agent until it should exit; resolves with the exit code. */
export async function runAgent(): Promise<number> {
  if (!versionAtLeast(Deno.version.deno, MIN_DENO_VERSION)) {
    console.error(
      `fusion agent: Deno ${Deno.version.deno} is too old; Fusion needs ${MIN_DENO_VERSION} or newer`,
    );
    return AGENT_EXIT_OLD_DENO;
  }
  const codec = new Codec({ limits: { maxFrameBytes: 1024 * 1024 } });
  const stdio = new StdioChannel(Deno.stdin.readable, Deno.stdout.writable);
  const config: AgentConfig = parseAgentConfig(codec.decode(await stdio.readFrame()));
  // Read while the node starts: sshd with GatewayPorts yes binds the tunnels beyond loopback.
  const exposed = exposedListeners([config.registryPort, config.hubPort]);
  // Everything user code prints goes to stderr: stdout may carry the node connection.
  redirectConsole();

  const node = await Node.start({
    name: config.name,
    ticket: config.ticket,
    hub: config.hub,
    tickTimeoutMs: config.tickTimeoutMs,
    registryPort: config.registryPort,
    listen: config.mode === "tcp",
    register: config.mode === "tcp",
    ...(config.mode === "tcp" ? { hubPort: config.hubPort } : {}),
    advertise: async (port) => {
      await stdio.write(codec.encodeFrame({ port }));
      const answer = codec.decode(await stdio.readFrame()) as { advertisedPort?: unknown };
      if (typeof answer?.advertisedPort !== "number") {
        throw new Error("agent: expected the advertised port on stdin");
      }
      return answer.advertisedPort;
    },
  });
  registerAgentServices(node);
  startSystemActor(node);

  let exit!: (code: number) => void;
  const done = new Promise<number>((r) => exit = r);
  let hubSeen = false;
  node.onNodeUp((peer) => {
    if (peer === config.hub) hubSeen = true;
  });
  node.onNodeDown((peer) => {
    if (peer === config.hub) exit(0);
  });
  const giveUp = setTimeout(() => {
    if (!hubSeen) {
      console.error(`fusion agent: the hub did not connect within ${HUB_CONNECT_TIMEOUT_MS} ms`);
      exit(4);
    }
  }, HUB_CONNECT_TIMEOUT_MS);

  if (config.mode === "tcp") {
    await stdio.write(codec.encodeFrame({ registered: true, exposed: await exposed }));
    stdio.waitEof().then(() => exit(0), () => exit(0));
  } else {
    await stdio.write(codec.encodeFrame({ stdio: true }));
    // stdin's end is the end, whether or not the hub's handshake ever completed.
    const t = stdio.transport();
    node.accept({
      label: t.label,
      get buffered() {
        return t.buffered;
      },
      start: (h) =>
        t.start({
          data: (chunk) => h.data(chunk),
          close: (error) => {
            h.close(error);
            exit(0);
          },
        }),
      write: (chunk) => t.write(chunk),
      close: () => t.close(),
    });
  }

  const code = await done;
  clearTimeout(giveUp);
  // A dead link must not keep the agent: closing is best effort, briefly.
  await Promise.race([node.close(), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS))]);
  return code;
}

function redirectConsole(): void {
  const err = console.error.bind(console);
  for (const level of ["log", "info", "debug", "trace", "dir", "table"] as const) {
    (console as unknown as Record<string, unknown>)[level] = err;
  }
}

/** Ends the agent and whatever user code started in its process group. */
export function exitAgent(code: number): never {
  // Alone in its group (the usual case): no kill, whose first use loads Deno's process
  // module (~10 ms of CPU per disconnect). Only where /proc can tell.
  if (Deno.build.os === "linux" && procReadable() && groupMembers(Deno.pid).length === 0) {
    Deno.exit(code);
  }
  // The agent leads its process group: sshd made its shell a session leader and we exec'd.
  try {
    Deno.addSignalListener("SIGTERM", () => {});
    Deno.kill(-Deno.pid, "SIGTERM");
  } catch { /* not a group leader: nothing else to take down */ }
  for (const pid of groupMembers(Deno.pid)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
  Deno.exit(code);
}

function procReadable(): boolean {
  try {
    return Deno.statSync("/proc/self/stat").isFile;
  } catch {
    return false;
  }
}

// Processes in process group `pgid` other than this one (Linux /proc; empty elsewhere).
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  try {
    for (const e of Deno.readDirSync("/proc")) {
      const pid = Number(e.name);
      if (!Number.isInteger(pid) || pid === Deno.pid) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[2]) === pgid) out.push(pid);
      } catch { /* exited meanwhile */ }
    }
  } catch { /* no /proc */ }
  return out;
}

if (import.meta.main) {
  const code = await runAgent().catch((e) => {
    console.error(`fusion agent: ${e?.message ?? e}`);
    return 1;
  });
  exitAgent(code);
}
