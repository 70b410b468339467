/**
 * A private ssh-agent for agent-auth tests, killed (by pid) at teardown.
 * @module
 */
import { killPid, onEmergency, run, sleep } from "./_proc.ts";

/** A running ssh-agent. */
export interface SshAgent extends AsyncDisposable {
  /** The agent's socket (what SSH_AUTH_SOCK would hold). */
  readonly socketPath: string;
  readonly pid: number;
  /** Adds a private key file to the agent. */
  add(keyPath: string): Promise<void>;
  /** Kills the agent and removes its directory. */
  stop(): Promise<void>;
}

/** Starts `ssh-agent -D` on a socket in a private temp dir and loads `keyPaths`. */
export async function startSshAgent(keyPaths: string[] = []): Promise<SshAgent> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-agent-" });
  const socketPath = `${dir}/agent.sock`;
  const child = new Deno.Command("ssh-agent", {
    args: ["-D", "-a", socketPath],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const unregister = onEmergency(() => {
    killPid(child.pid);
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // ignore
    }
  });
  let stopped = false;
  const agent: SshAgent = {
    socketPath,
    pid: child.pid,
    async add(keyPath) {
      await run("ssh-add", ["-q", keyPath], { env: { SSH_AUTH_SOCK: socketPath } });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      killPid(child.pid, "SIGTERM");
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      unregister();
    },
    [Symbol.asyncDispose]() {
      return agent.stop();
    },
  };
  try {
    for (let i = 0; i < 200; i++) {
      try {
        await Deno.stat(socketPath);
        break;
      } catch {
        await sleep(10);
      }
    }
    for (const k of keyPaths) await agent.add(k);
  } catch (e) {
    await agent.stop();
    throw e;
  }
  return agent;
}
