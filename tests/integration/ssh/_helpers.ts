/** Shared bits of the SSH integration tests. */
import { createServer, type Server, type Socket } from "node:net";
import type { SshBackend, SshBackendKind } from "../../../src/ssh/mod.ts";
import { sshdUnavailable } from "../../support/mod.ts";

/** Both backends, in the order tests run them. */
export const BACKENDS: readonly SshBackendKind[] = ["ssh2", "system"];

/** Why these tests are skipped, or undefined (printed loudly by sshdUnavailable). */
export const unavailable = await sshdUnavailable();

/** Deno.test that is skipped (loudly) when no sshd can be started. */
export function sshTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({ name, ignore: unavailable !== undefined, fn });
}

/** Runs a command to its end and returns its exit code and output as text. */
export async function execText(
  ssh: SshBackend,
  command: string,
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const ch = await ssh.exec(command);
  let stdout = "";
  let stderr = "";
  ch.stdout.setEncoding("utf8");
  ch.stderr.setEncoding("utf8");
  ch.stdout.on("data", (d: string) => (stdout += d));
  ch.stderr.on("data", (d: string) => (stderr += d));
  ch.stdin.end(stdin ?? "");
  const exit = await ch.exit;
  return { code: exit.code, stdout, stderr };
}

/** A local TCP server on 127.0.0.1:0 that answers each chunk upper-cased. */
export async function upperServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.on("data", (d) => s.write(String(d).toUpperCase()));
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A bash command, run on the server, that sends `text` to 127.0.0.1:port and prints the answer. */
export function bashTcpRoundTrip(port: number, text: string, bytes = text.length): string {
  return `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && printf %s ${text} >&3 && head -c ${bytes} <&3'`;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export async function listening(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** Local ssh processes whose command line mentions `needle` (e.g. a private temp dir). */
export function localProcessesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (cmd.includes(needle)) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}
