import assert from "node:assert/strict";
import { ConnectError } from "../../../src/errors.ts";
import { connectSsh } from "../../../src/ssh/mod.ts";
import { oneShotCiphers } from "../../../src/ssh/ssh2_module.ts";
import { cryptoRestored } from "../../../src/ssh/_crypto_swap.ts";
import { startSshd } from "../../support/mod.ts";
import { BACKENDS, execText, sshTest } from "./_helpers.ts";

sshTest("exec() and upload() carry stdin, stdout, stderr, exit codes and files", async (t) => {
  await using host = await startSshd({ forwarding: false });
  await t.step("ssh2: connect() negotiates chacha20-poly1305@openssh.com", async () => {
    const lines: string[] = [];
    await using _ssh = await connectSsh(host.target(), { debug: (l) => lines.push(l) });
    assert.ok(
      lines.some((l) => /C->S cipher: chacha20-poly1305@openssh\.com/.test(l)),
      lines.filter((l) => /cipher/.test(l)).join("\n"),
    );
  });

  await t.step("ssh2: chacha20 packets leave no node:crypto cipher resource behind", async () => {
    // Deno frees a cipher only in final(); ssh2's JS chacha20 would leak three per packet.
    // deno-lint-ignore no-explicit-any
    const core = (Deno as any)[(Deno as any).internal].core;
    const ciphers = () =>
      Object.values(core.resources() as Record<string, string>)
        .filter((n) => /^crypto(De)?[Cc]ipher/.test(n)).length;
    await using ssh = await connectSsh(host.target({ sshBackend: "ssh2" }));
    const ch = await ssh.exec("cat");
    ch.stderr.resume();
    const roundTrip = (i: number) => {
      const got = new Promise((r) => ch.stdout.once("data", r));
      ch.stdin.write(`ping ${i}\n`);
      return got;
    };
    await roundTrip(0);
    const before = ciphers();
    const made = oneShotCiphers();
    for (let i = 1; i <= 200; i++) await roundTrip(i);
    // 3 ciphers per packet each way: ssh2 really went through the finalizing factories.
    assert.ok(oneShotCiphers() - made >= 600, `${oneShotCiphers() - made} chacha20 ciphers made`);
    assert.ok(cryptoRestored(), "node:crypto holds its own functions again");
    assert.ok(ciphers() - before < 10, `cipher resources ${before} -> ${ciphers()}`);
    ch.stdin.end();
    await ch.exit;
  });

  for (const kind of BACKENDS) {
    await using ssh = await connectSsh(host.target({ sshBackend: kind }));

    await t.step(`${kind}: exec() reports exit codes`, async () => {
      assert.equal((await execText(ssh, "true")).code, 0);
      assert.equal((await execText(ssh, "exit 7")).code, 7);
      assert.equal((await execText(ssh, "exit 255")).code, 255);
    });

    await t.step(`${kind}: exec() separates stdout from stderr`, async () => {
      const r = await execText(ssh, "echo out; echo err >&2; echo out2");
      assert.equal(r.stdout, "out\nout2\n");
      assert.equal(r.stderr, "err\n");
    });

    await t.step(`${kind}: exec() feeds stdin and sends EOF on end()`, async () => {
      const r = await execText(ssh, "wc -c; cat", "hello");
      assert.equal(r.stdout.trim().split("\n")[0]?.trim(), "5");
    });

    await t.step(`${kind}: exec() streams a megabyte of binary output intact`, async () => {
      const ch = await ssh.exec("head -c 1048576 /dev/zero | tr '\\0' '\\377'");
      let n = 0;
      let ok = true;
      ch.stdout.on("data", (d: Uint8Array) => {
        n += d.length;
        if (d.some((b) => b !== 0xff)) ok = false;
      });
      ch.stderr.resume();
      ch.stdin.end();
      assert.equal((await ch.exit).code, 0);
      assert.equal(n, 1048576);
      assert.ok(ok);
    });

    await t.step(`${kind}: exec() stdout still flows after duplex was only touched`, async () => {
      const ch = await ssh.exec("echo touched");
      ch.duplex.on("error", () => {});
      let out = "";
      ch.stdout.on("data", (d: Uint8Array) => (out += new TextDecoder().decode(d)));
      ch.stderr.resume();
      ch.stdin.end();
      await ch.exit;
      assert.equal(out, "touched\n");
    });

    await t.step(`${kind}: exec() runs many commands at once on one connection`, async () => {
      const rs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => execText(ssh, `echo ${i}`)),
      );
      assert.deepEqual(rs.map((r) => r.stdout), Array.from({ length: 12 }, (_, i) => `${i}\n`));
    });

    await t.step(
      `${kind}: exec() duplex is a byte transport (works with AllowTcpForwarding no)`,
      async () => {
        const ch = await ssh.exec("cat");
        const d = ch.duplex;
        const got: Uint8Array[] = [];
        const all = new Promise<void>((res) => {
          let n = 0;
          d.on("data", (c: Uint8Array) => {
            got.push(c);
            n += c.length;
            if (n >= 3 * 1000) res();
          });
        });
        for (let i = 0; i < 3; i++) d.write(new Uint8Array(1000).fill(i + 1));
        await all;
        const joined = new Uint8Array(got.reduce((a, c) => a + c.length, 0));
        let off = 0;
        for (const c of got) {
          joined.set(c, off);
          off += c.length;
        }
        assert.equal(joined[0], 1);
        assert.equal(joined[2999], 3);
        d.end();
        assert.equal((await ch.exit).code, 0);
      },
    );

    await t.step(
      `${kind}: exec() close() ends a command that reads stdin or writes output`,
      async () => {
        const marker = `fusion-close-${kind}`;
        const ch = await ssh.exec(
          `exec -a ${marker} bash -c 'while :; do echo x; sleep 0.05; done'`,
        );
        ch.stdout.once("data", () => ch.close());
        ch.stderr.resume();
        await ch.exit;
        const left = await host.waitForNoProcesses({ timeoutMs: 5000, matching: marker });
        assert.deepEqual(left, []);
      },
    );

    if (kind === "ssh2") {
      await t.step(
        "ssh2: exec() close() stops a command that ignores stdin (SIGTERM)",
        async () => {
          const ch = await ssh.exec("exec sleep 60");
          ch.stdout.resume();
          ch.stderr.resume();
          await new Promise((r) => setTimeout(r, 100));
          const t0 = Date.now();
          ch.close();
          const exit = await ch.exit;
          assert.ok(Date.now() - t0 < 10_000);
          assert.notEqual(exit.code, 0);
        },
      );
    }

    await t.step(`${kind}: exec() stops when its AbortSignal fires`, async () => {
      const ac = new AbortController();
      const ch = await ssh.exec("cat", { signal: ac.signal });
      ch.stdout.resume();
      ch.stderr.resume();
      ac.abort();
      await ch.exit;
    });

    await t.step(`${kind}: upload() writes bytes to a path under ~ with mode 0600`, async () => {
      const data = new Uint8Array(200_000);
      for (let i = 0; i < data.length; i += 65536) {
        crypto.getRandomValues(data.subarray(i, Math.min(data.length, i + 65536)));
      }
      await ssh.upload(`~/up-${kind}.bin`, data);
      const r = await execText(ssh, `stat -c %a ~/up-${kind}.bin; sha256sum < ~/up-${kind}.bin`);
      const [mode, sum] = r.stdout.split("\n");
      assert.equal(mode, "600");
      const want = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)))
        .map((b) => b.toString(16).padStart(2, "0")).join("");
      assert.equal(sum?.split(" ")[0], want);
    });

    await t.step(`${kind}: upload() honours a mode and a path with spaces and quotes`, async () => {
      await ssh.upload(`~/it's a file ${kind}`, new TextEncoder().encode("#!/bin/sh\necho hi\n"), {
        mode: 0o700,
      });
      const r = await execText(
        ssh,
        `stat -c %a ~/"it's a file ${kind}" && ~/"it's a file ${kind}"`,
      );
      assert.equal(r.stdout, "700\nhi\n");
    });

    await t.step(
      `${kind}: upload() to an unwritable path fails with the server's reason`,
      async () => {
        await assert.rejects(
          ssh.upload("/proc/nope/x", new Uint8Array([1])),
          (e: Error) =>
            e instanceof ConnectError && /upload to \/proc\/nope\/x failed/.test(e.message),
        );
      },
    );

    await t.step(
      `${kind}: forward() and reverse() fail clearly when the server forbids forwarding`,
      async () => {
        await assert.rejects(ssh.reverse(1), ConnectError);
        const fwd = await ssh.forward(host.port).catch((e) => e);
        if (fwd instanceof Error) {
          assert.ok(fwd instanceof ConnectError);
        } else {
          // Local forwards are refused per connection, not up front.
          const c = await Deno.connect({ hostname: "127.0.0.1", port: fwd.localPort });
          const n = await c.read(new Uint8Array(10)).catch(() => null);
          assert.equal(n, null);
          c.close();
          await fwd.close();
        }
      },
    );
  }
});
