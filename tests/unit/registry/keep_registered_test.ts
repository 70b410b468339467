import assert from "node:assert/strict";
import { type Credentials, ticketFor } from "../../../src/dist/credentials.ts";
import { ConnectError, NameTakenError } from "../../../src/errors.ts";
import {
  keepRegistered,
  lookup,
  names,
  type Registration,
  RegistryServer,
} from "../../../src/registry/mod.ts";

const cookie = crypto.getRandomValues(new Uint8Array(32));
const creds: Credentials = { kind: "cookie", cookie };

/** Polls `check` until it holds, failing after `ms`. */
async function eventually(check: () => Promise<boolean> | boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function safeNames(port: number, credentials: Credentials = creds) {
  try {
    return await names({ port, credentials });
  } catch {
    return [];
  }
}

Deno.test("the first cookie holder to find no registry hosts one and registers in it", async () => {
  await using a = await keepRegistered({
    name: "a@localhost",
    port: 5001,
    credentials: creds,
    registryPort: 0,
  });
  assert.ok(a.hosting);
  assert.ok(a.registered);
  assert.notEqual(a.registryPort, 0);
  await using b = await keepRegistered({
    name: "b@localhost",
    port: 5002,
    credentials: creds,
    registryPort: a.registryPort,
  });
  assert.equal(b.hosting, false);
  assert.deepEqual(await names({ port: a.registryPort, credentials: creds }), [
    { name: "a@localhost", port: 5001 },
    { name: "b@localhost", port: 5002 },
  ]);
});

Deno.test("keepRegistered hosts the registry on a given port when nothing answers there", async () => {
  const probe = await RegistryServer.listen({ port: 0, credentials: creds });
  const port = probe.port;
  await probe.close();
  await using a = await keepRegistered({
    name: "a@localhost",
    port: 5001,
    credentials: creds,
    registryPort: port,
  });
  assert.ok(a.hosting);
  assert.equal(a.registryPort, port);
  assert.equal(await lookup("a@localhost", { port, credentials: creds }), 5001);
});

Deno.test("a ticket holder never hosts the registry and fails when none answers", async () => {
  const probe = await RegistryServer.listen({ port: 0, credentials: creds });
  const port = probe.port;
  await probe.close();
  const ticket: Credentials = {
    kind: "ticket",
    name: "agent@web",
    ticket: ticketFor(cookie, "agent@web"),
  };
  await assert.rejects(
    keepRegistered({
      name: "agent@web",
      port: 6001,
      credentials: ticket,
      registryPort: port,
      startTimeoutMs: 200,
    }),
    ConnectError,
  );
  await assert.rejects(names({ port, credentials: creds }), ConnectError);
});

Deno.test("keepRegistered rejects a name that is live elsewhere with NameTakenError", async () => {
  await using a = await keepRegistered({
    name: "a@localhost",
    port: 5001,
    credentials: creds,
    registryPort: 0,
  });
  await assert.rejects(
    keepRegistered({
      name: "a@localhost",
      port: 5002,
      credentials: creds,
      registryPort: a.registryPort,
    }),
    NameTakenError,
  );
});

Deno.test("when the host closes, another survivor hosts and all live ones re-register", async () => {
  const events: string[] = [];
  const host = await keepRegistered({
    name: "h@localhost",
    port: 5000,
    credentials: creds,
    registryPort: 0,
  });
  const port = host.registryPort;
  const ticket: Credentials = { kind: "ticket", name: "t@web", ticket: ticketFor(cookie, "t@web") };
  const others: Registration[] = [];
  try {
    for (
      const [name, c, p] of [["b@localhost", creds, 5001], ["c@localhost", creds, 5002], [
        "t@web",
        ticket,
        5003,
      ]] as const
    ) {
      others.push(
        await keepRegistered({
          name,
          port: p,
          credentials: c,
          registryPort: port,
          onLost: () => events.push(`lost ${name}`),
          onRestored: () => events.push(`restored ${name}`),
        }),
      );
    }
    assert.equal((await names({ port, credentials: creds })).length, 4);
    await host.close();
    assert.equal(host.hosting, false);
    await eventually(async () => {
      const listed = (await safeNames(port)).map((e) => e.name);
      return listed.join() === "b@localhost,c@localhost,t@web";
    });
    assert.equal(others.filter((o) => o.hosting).length, 1);
    assert.equal(others[2]!.hosting, false);
    assert.ok(others.every((o) => o.registered && o.registryPort === port));
    for (const n of ["b@localhost", "c@localhost", "t@web"]) {
      assert.ok(events.includes(`lost ${n}`), n);
      assert.ok(events.includes(`restored ${n}`), n);
    }

    // And once more: the new host closes, the last cookie holder takes over.
    const newHost = others.find((o) => o.hosting)!;
    const rest = others.filter((o) => o !== newHost);
    await newHost.close();
    await eventually(async () => {
      const listed = (await safeNames(port)).map((e) => e.name);
      return listed.join() === rest.map((o) => o.name).join();
    });
    assert.ok(rest[0]!.hosting);
  } finally {
    await host.close();
    for (const o of others) await o.close();
  }
});

Deno.test("closing the hosting registration closes its registry", async () => {
  const a = await keepRegistered({
    name: "a@localhost",
    port: 5001,
    credentials: creds,
    registryPort: 0,
  });
  const port = a.registryPort;
  assert.equal(await lookup("a@localhost", { port, credentials: creds }), 5001);
  await a.close();
  assert.equal(a.registered, false);
  assert.equal(a.hosting, false);
  await assert.rejects(names({ port, credentials: creds }), ConnectError);
  await a.close(); // idempotent
});

Deno.test("a closed registration stops retrying and leaves nothing running", async () => {
  const a = await keepRegistered({
    name: "a@localhost",
    port: 5001,
    credentials: creds,
    registryPort: 0,
  });
  const ticket: Credentials = { kind: "ticket", name: "t@web", ticket: ticketFor(cookie, "t@web") };
  let retries = 0;
  const t = await keepRegistered({
    name: "t@web",
    port: 6001,
    credentials: ticket,
    registryPort: a.registryPort,
    onRetryError: () => retries++,
  });
  await a.close();
  // The ticket holder cannot host, so it keeps retrying until closed.
  await eventually(() => retries > 0 && !t.registered);
  await t.close();
  assert.equal(t.registered, false);
});

Deno.test("when the hosting process is killed, the survivors take over", async () => {
  const secret = "kill-test-cookie";
  const shared: Credentials = { kind: "cookie", cookie: new TextEncoder().encode(secret) };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_host_child.ts", import.meta.url).pathname, secret],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const regs: Registration[] = [];
  let killed = false;
  try {
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    await child.stdout.cancel();
    const port = Number(text.trim());
    assert.ok(port > 0, `child reported ${JSON.stringify(text)}`);
    for (const n of ["b@localhost", "c@localhost"]) {
      regs.push(
        await keepRegistered({ name: n, port: 5001, credentials: shared, registryPort: port }),
      );
    }
    assert.equal((await names({ port, credentials: shared })).length, 3);
    Deno.kill(child.pid, "SIGKILL");
    killed = true;
    await child.status;
    await eventually(async () =>
      (await safeNames(port, shared)).map((e) => e.name).join() === "b@localhost,c@localhost"
    );
    assert.equal(regs.filter((r) => r.hosting).length, 1);
  } finally {
    if (!killed) {
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    for (const r of regs) await r.close();
  }
});
