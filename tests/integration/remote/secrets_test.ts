import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { ticketFor } from "../../../src/dist/credentials.ts";
import { Node } from "../../../src/node.ts";
import { NodeManager } from "../../../src/remote/mod.ts";
import { BACKENDS, hostTest, randomHex } from "./_helpers.ts";

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.length).indexOf(Buffer.from(needle));
}

/** Every process whose cmdline or environ holds one of the needles: "pid file needle". */
function processesHolding(needles: Record<string, Uint8Array>): string[] {
  const hits: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    for (const file of ["cmdline", "environ"]) {
      let data: Uint8Array;
      try {
        data = Deno.readFileSync(`/proc/${e.name}/${file}`);
      } catch {
        continue; // gone, or a kernel thread
      }
      for (const [label, needle] of Object.entries(needles)) {
        if (indexOf(data, needle) >= 0) hits.push(`${e.name} ${file} ${label}`);
      }
    }
  }
  return hits;
}

hostTest(
  "the cookie and the agent's ticket appear in no process's cmdline or environ during a connection",
  {},
  async ({ host, t }) => {
    const enc = new TextEncoder();
    await using node = await Node.start({
      name: `secret-hub-${randomHex(3)}`,
      cookie: `cookie-${randomHex(16)}`,
      registryPort: 0,
    });
    assert.equal(node.credentials.kind, "cookie");
    const cookie = (node.credentials as { cookie: Uint8Array }).cookie;
    // The scan finds a secret where there is one.
    const control = new Deno.Command("sleep", {
      args: ["30"],
      env: { CONTROL: new TextDecoder().decode(cookie) },
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      assert.ok(processesHolding({ cookie }).includes(`${control.pid} environ cookie`));
    } finally {
      control.kill("SIGKILL");
      await control.status;
    }
    for (const kind of BACKENDS) {
      for (const transport of ["auto", "stdio"] as const) {
        await t.step(`${kind}, transport ${transport}`, async () => {
          const manager = new NodeManager(host.target({ sshBackend: kind }), { node, transport });
          const remote = await manager.connect();
          try {
            const ticket = ticketFor(cookie, remote.name);
            const needles: Record<string, Uint8Array> = {
              "cookie": cookie,
              "cookie hex": enc.encode(Buffer.from(cookie).toString("hex")),
              "cookie base64": enc.encode(Buffer.from(cookie).toString("base64")),
              "ticket": ticket,
              "ticket hex": enc.encode(Buffer.from(ticket).toString("hex")),
              "ticket base64": enc.encode(Buffer.from(ticket).toString("base64")),
            };
            const agentPid = (await remote.info()).pid;
            // The scan reaches the agent and the server's session processes.
            const users = await host.processes();
            assert.ok(users.some((p) => p.pid === agentPid));
            assert.ok(
              indexOf(Deno.readFileSync(`/proc/${agentPid}/cmdline`), enc.encode("agent-")) >= 0,
            );
            assert.deepEqual(processesHolding(needles), []);
          } finally {
            await manager.disconnect();
          }
        });
      }
    }
    assert.deepEqual(await host.waitForNoProcesses(), []);
  },
);
