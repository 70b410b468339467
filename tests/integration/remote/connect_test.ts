import assert from "node:assert/strict";
import { ConnectError } from "../../../src/errors.ts";
import { type ConnectionStatus, NodeManager } from "../../../src/remote/mod.ts";
import { Pid } from "../../../src/wire/pid.ts";
import {
  assertNothingLeft,
  BACKENDS,
  hostTest,
  localListeners,
  userPidsMatching,
} from "./_helpers.ts";

hostTest(
  "connect() returns a RemoteNode whose info() and ping() work, and disconnect() leaves nothing behind",
  {},
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const before = await localListeners();
        const manager = new NodeManager(host.target({ sshBackend: kind }), { node: hub });
        const remote = await manager.connect();
        assert.match(remote.name, /^127\.0\.0\.1-[0-9a-f]{8}@localhost$/);
        assert.equal(remote.hub, hub);
        const info = await remote.info();
        assert.equal(info.node, remote.name);
        assert.equal(info.deno, Deno.version.deno);
        assert.equal(info.cwd, host.home);
        assert.ok((await userPidsMatching(host, "agent-")).includes(info.pid));
        assert.ok(await remote.ping() >= 0);
        assert.ok(hub.nodes().includes(remote.name));
        if (kind === "ssh2") {
          assert.notDeepEqual(await localListeners(), before, "a forward listener while connected");
        }

        await manager.disconnect();
        // disconnect() resolved only after the agent exited: nothing to wait for.
        assert.deepEqual(await host.waitForNoProcesses({ timeoutMs: 0, matching: "agent-" }), []);
        assert.equal(manager.status(), "disconnected");
        assert.ok(!hub.nodes().includes(remote.name));
        await assertNothingLeft(host, before);
      });
    }
  },
);

hostTest(
  "a second connect() returns the same RemoteNode and status() goes disconnected, connecting, connected, disconnected",
  {},
  async ({ host, hub }) => {
    const manager = new NodeManager(host.target(), { node: hub });
    const seen: ConnectionStatus[] = [manager.status()];
    const first = manager.connect();
    seen.push(manager.status());
    const again = manager.connect();
    const remote = await first;
    seen.push(manager.status());
    assert.equal(await again, remote, "a connect while connecting joins it");
    assert.equal(await manager.connect(), remote, "a connect when connected returns it");
    await manager.disconnect();
    seen.push(manager.status());
    assert.deepEqual(seen, ["disconnected", "connecting", "connected", "disconnected"]);
    await manager.disconnect(); // harmless twice

    const next = await manager.connect();
    assert.notEqual(next, remote);
    assert.notEqual(next.name, remote.name, "a new connection gets a new name");
    await next.close();
    assert.equal(manager.status(), "disconnected", "RemoteNode.close() disconnects its manager");
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);

hostTest(
  "a caller-given node name is used as is, and the agent's system actor answers ping and info messages",
  {},
  async ({ host, hub }) => {
    await using remote = await new NodeManager(host.target(), { node: hub, name: "web01" })
      .connect();
    assert.equal(remote.name, "web01@localhost");
    using inbox = hub.inbox();
    inbox.send(["fusion", remote.name], { type: "ping", from: inbox.self, ref: 7 });
    assert.deepEqual(await inbox.receive({ timeoutMs: 5000 }), {
      type: "pong",
      node: remote.name,
      ref: 7,
    });
    inbox.send(["fusion", remote.name], { type: "info", from: inbox.self, ref: "i" });
    const info = await inbox.receive<{ type: string; info: { node: string; pid: number } }>({
      timeoutMs: 5000,
    });
    assert.equal(info.type, "info");
    assert.equal(info.info.node, remote.name);
    assert.ok(Number.isInteger(info.info.pid));
    assert.ok(inbox.self instanceof Pid);
  },
);

hostTest(
  "on a server with AllowTcpForwarding no the node connection runs over the agent's stdio, and the log says so",
  { sshd: { forwarding: false } },
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const before = await localListeners();
        const log: string[] = [];
        const manager = new NodeManager(host.target({ sshBackend: kind }), {
          node: hub,
          log: (l) => log.push(l),
        });
        const remote = await manager.connect();
        assert.equal((await remote.info()).node, remote.name);
        await remote.ping();
        assert.ok(
          log.some((l) => /forwarding refused.*runs over the agent's stdio/s.test(l)),
          log.filter((l) => !l.includes("CHANNEL_DATA")).join("\n"),
        );
        assert.deepEqual(await localListeners(), before, "no forward listener in stdio mode");
        await manager.disconnect();
        await assertNothingLeft(host, before);
      });
    }
    await t.step("transport: tunnel is refused there with ConnectError", async () => {
      const manager = new NodeManager(host.target(), { node: hub, transport: "tunnel" });
      await assert.rejects(manager.connect(), (e: Error) => {
        assert.ok(e instanceof ConnectError, String(e));
        assert.match(e.message, /refused the tunnels/);
        return true;
      });
      assert.equal(manager.status(), "disconnected");
      assert.deepEqual(await host.waitForNoProcesses(), []);
    });
  },
);

hostTest(
  'transport: "stdio" runs the node connection over the exec channel on a server that allows forwarding',
  {},
  async ({ host, hub, t }) => {
    for (const kind of BACKENDS) {
      await t.step(kind, async () => {
        const before = await localListeners();
        const log: string[] = [];
        const manager = new NodeManager(host.target({ sshBackend: kind }), {
          node: hub,
          transport: "stdio",
          log: (l) => log.push(l),
        });
        const remote = await manager.connect();
        for (let i = 0; i < 20; i++) await remote.ping();
        assert.equal((await remote.info()).node, remote.name);
        assert.ok(log.some((l) => /stdio transport requested/.test(l)));
        assert.deepEqual(await localListeners(), before);
        await manager.disconnect();
        await assertNothingLeft(host, before);
      });
    }
  },
);

hostTest(
  "what user code prints on the remote reaches the output callback with the node's name",
  {},
  async ({ host, hub, t }) => {
    for (const transport of ["auto", "stdio"] as const) {
      await t.step(`transport ${transport}`, async () => {
        const lines: string[] = [];
        await using remote = await new NodeManager(host.target(), {
          node: hub,
          transport,
          output: (line, node) => lines.push(`[${node}] ${line}`),
        }).connect();
        const value = await remote.runFun(() => {
          console.log("hello from the remote");
          console.error("and its stderr");
          return 42;
        });
        assert.equal(value, 42);
        const end = Date.now() + 5000;
        while (lines.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
        assert.deepEqual(lines, [
          `[${remote.name}] hello from the remote`,
          `[${remote.name}] and its stderr`,
        ]);
        assert.equal(await remote.ping() >= 0, true, "the stdio transport is intact");
      });
    }
  },
);
