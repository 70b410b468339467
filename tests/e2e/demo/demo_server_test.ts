/**
 * The demo's embedded SSH server, driven by Fusion's own ssh layer. This
 * server only backs `fusion demo`; Fusion itself is tested against OpenSSH.
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { type DemoServer, startDemoServer } from "../../../src/cli/_demo_server.ts";
import { AuthError, ConnectError, HostKeyError } from "../../../src/errors.ts";
import { connectSsh, ssh2, type SshBackend, type Target } from "../../../src/ssh/mod.ts";

interface Fixture extends AsyncDisposable {
  server: DemoServer;
  dir: string;
  /** What the server refused, from its log. */
  refused: string[];
  target(overrides?: Partial<Target>): Target;
}

async function fixture(): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-demo-server-test-" });
  const refused: string[] = [];
  const log = (line: string) => {
    if (line.includes("refused")) refused.push(line);
  };
  const server = await startDemoServer({ home: dir, log });
  await Deno.writeTextFile(`${dir}/known_hosts`, `${server.knownHostsLine}\n`);
  await Deno.writeTextFile(`${dir}/id_ed25519`, server.clientKey, { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/ssh_config`, "");
  const dispose = async () => {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  };
  return {
    server,
    dir,
    refused,
    target: (overrides = {}) => ({
      host: server.host,
      port: server.port,
      username: server.username,
      auth: { key: `${dir}/id_ed25519` },
      hostKeys: { policy: "strict", knownHosts: `${dir}/known_hosts` },
      sshConfig: `${dir}/ssh_config`,
      ...overrides,
    }),
    [Symbol.asyncDispose]: dispose,
  };
}

async function execText(
  ssh: SshBackend,
  command: string,
  stdin = "",
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const ch = await ssh.exec(command);
  let stdout = "";
  let stderr = "";
  ch.stdout.setEncoding("utf8");
  ch.stderr.setEncoding("utf8");
  ch.stdout.on("data", (d: string) => (stdout += d));
  ch.stderr.on("data", (d: string) => (stderr += d));
  ch.stdin.end(stdin);
  const { code } = await ch.exit;
  return { code, stdout, stderr };
}

/** A TCP server on 127.0.0.1 that answers each chunk upper-cased. */
async function upperServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.on("data", (d) => s.write(String(d).toUpperCase()));
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function roundTrip(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(text));
    let out = "";
    const buf = new Uint8Array(1024);
    while (out.length < text.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    conn.close();
  }
}

async function listening(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

Deno.test("the demo server runs commands with their output, stdin and exit status", async (t) => {
  await using f = await fixture();
  await using ssh = await connectSsh(f.target());

  await t.step("exec passes stdout, stderr and the exit code", async () => {
    const r = await execText(ssh, "echo out; echo err >&2; exit 3");
    assert.deepEqual(r, { code: 3, stdout: "out\n", stderr: "err\n" });
  });

  await t.step("exec feeds stdin to the command until EOF", async () => {
    const r = await execText(ssh, "tr a-z A-Z", "hello\nworld\n");
    assert.deepEqual(r, { code: 0, stdout: "HELLO\nWORLD\n", stderr: "" });
  });

  await t.step("commands run as the current user, in the given home", async () => {
    const r = await execText(ssh, 'id -un; echo "$HOME"; pwd');
    assert.equal(r.stdout, `${f.server.username}\n${f.dir}\n${f.dir}\n`);
  });

  await t.step("a command killed by a signal reports no exit code", async () => {
    const r = await execText(ssh, "kill -TERM $$");
    assert.equal(r.code, null);
  });

  await t.step("closing the channel kills the command's whole process group", async () => {
    const ch = await ssh.exec("sleep 300 & echo $!; wait");
    ch.stdout.setEncoding("utf8");
    const pid = await new Promise<number>((resolve) =>
      ch.stdout.once("data", (d: string) => resolve(Number(d.trim())))
    );
    assert.ok(alive(pid), "the background sleep should be running");
    ch.close();
    await ch.exit;
    assert.ok(await waitFor(() => !alive(pid)), `pid ${pid} outlived its channel`);
  });
});

Deno.test("the demo server carries reverse and forward tunnels on loopback", async (t) => {
  await using f = await fixture();
  const upper = await upperServer();
  try {
    await using ssh = await connectSsh(f.target());

    await t.step(
      "a reverse tunnel asked on port 0 reports its port and carries a connection",
      async () => {
        const rev = await ssh.reverse(upper.port);
        assert.ok(rev.remotePort > 0);
        assert.notEqual(rev.remotePort, upper.port);
        assert.equal(await roundTrip(rev.remotePort, "ping"), "PING");
        await rev.close();
        assert.equal(await listening(rev.remotePort), false, "cancel must close the listener");
      },
    );

    await t.step("two reverse tunnels get distinct ports", async () => {
      const [a, b] = await Promise.all([ssh.reverse(upper.port), ssh.reverse(upper.port)]);
      assert.notEqual(a.remotePort, b.remotePort);
      assert.equal(await roundTrip(b.remotePort, "two"), "TWO");
      await Promise.all([a.close(), b.close()]);
    });

    await t.step("a forward tunnel reaches a loopback port", async () => {
      const fwd = await ssh.forward(upper.port);
      assert.equal(await roundTrip(fwd.localPort, "fwd"), "FWD");
      await fwd.close();
    });

    await t.step("dial() opens a stream to a loopback port", async () => {
      const s = await ssh.dial("127.0.0.1", upper.port);
      const reply = new Promise<string>((r) => s.once("data", (d: Uint8Array) => r(String(d))));
      s.write("dial");
      assert.equal(await reply, "DIAL");
      s.destroy();
    });

    await t.step("forwarding to a non-loopback address is refused", async () => {
      await assert.rejects(ssh.dial("192.0.2.1", 80), ConnectError);
      await assert.rejects(ssh.dial("example.com", 80), ConnectError);
      const fwd = await ssh.forward(80, { remoteHost: "10.0.0.1" });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: fwd.localPort });
      assert.equal(await conn.read(new Uint8Array(8)).catch(() => null), null);
      conn.close();
      await fwd.close();
      assert.deepEqual(f.refused, [
        "demo sshd: refused a forward tunnel to 192.0.2.1:80 (loopback only)",
        "demo sshd: refused a forward tunnel to example.com:80 (loopback only)",
        "demo sshd: refused a forward tunnel to 10.0.0.1:80 (loopback only)",
      ]);
    });

    await t.step("a reverse tunnel on a non-loopback address is refused", async () => {
      const lib = ((ssh2 as unknown as { default?: unknown }).default ?? ssh2) as {
        Client: new () => {
          on(e: string, fn: (...a: unknown[]) => void): void;
          connect(c: Record<string, unknown>): void;
          forwardIn(addr: string, port: number, cb: (err?: Error, port?: number) => void): void;
          end(): void;
        };
      };
      const client = new lib.Client();
      const err = await new Promise<Error | undefined>((resolve, reject) => {
        client.on("error", reject);
        client.on("ready", () => client.forwardIn("0.0.0.0", 0, (e) => resolve(e)));
        client.connect({
          host: "127.0.0.1",
          port: f.server.port,
          username: f.server.username,
          password: f.server.password,
        });
      });
      const closed = new Promise((r) => client.on("close", r));
      client.end();
      await closed;
      assert.ok(err instanceof Error, "forwardIn on 0.0.0.0 must fail");
      assert.match(f.refused.at(-1) ?? "", /refused a reverse tunnel on 0\.0\.0\.0:0/);
    });
  } finally {
    await upper.close();
  }
});

Deno.test("the demo server accepts only its key or password for the current user", async (t) => {
  await using f = await fixture();

  await t.step("the password is accepted", async () => {
    await using ssh = await connectSsh(f.target({ auth: { password: f.server.password } }));
    assert.equal((await execText(ssh, "echo ok")).stdout, "ok\n");
  });

  await t.step("a wrong password is refused with AuthError", async () => {
    await assert.rejects(connectSsh(f.target({ auth: { password: "wrong" } })), AuthError);
  });

  await t.step("another key is refused with AuthError", async () => {
    const other = await startDemoServer();
    try {
      await Deno.writeTextFile(`${f.dir}/other_key`, other.clientKey, { mode: 0o600 });
    } finally {
      await other.close();
    }
    await assert.rejects(connectSsh(f.target({ auth: { key: `${f.dir}/other_key` } })), AuthError);
  });

  await t.step("another user name is refused with AuthError", async () => {
    const username = f.server.username === "nobody" ? "daemon" : "nobody";
    await assert.rejects(connectSsh(f.target({ username })), AuthError);
  });

  await t.step(
    "strict host key checking refuses the server when known_hosts lacks it",
    async () => {
      await Deno.writeTextFile(`${f.dir}/empty_known_hosts`, "");
      await assert.rejects(
        connectSsh(f.target({
          hostKeys: { policy: "strict", knownHosts: `${f.dir}/empty_known_hosts` },
        })),
        HostKeyError,
      );
    },
  );
});

Deno.test("closing the demo server ends its connections and commands", async () => {
  await using f = await fixture();
  const ssh = await connectSsh(f.target());
  const ch = await ssh.exec("sleep 300 & echo $!; wait");
  ch.stdout.setEncoding("utf8");
  const pid = await new Promise<number>((resolve) =>
    ch.stdout.once("data", (d: string) => resolve(Number(d.trim())))
  );
  await f.server.close();
  assert.ok(await waitFor(() => !alive(pid)), `pid ${pid} outlived the server`);
  const info = await ssh.closed;
  assert.equal(info.requested, false);
  assert.equal(await listening(f.server.port), false);
});
