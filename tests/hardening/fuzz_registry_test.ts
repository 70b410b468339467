// Fuzz of the registry protocol: a RegistryServer fed 100,000 generated and mutated requests
// over TCP, one connection each (a registry connection carries one request, or one
// request and its proof). Every connection gets a well-formed answer or is closed, nothing
// is answered "ok" without its proof (no registration, no port, no listing), the registry
// answers a real client all along, and no socket is left open. The client runs as its own process (_fixtures/
// registry_fuzz_client.ts). tests/unit/registry covers each rule once.
import assert from "node:assert/strict";
import { lookup, names, register, RegistryServer } from "../../src/registry/mod.ts";
import type { ClientSummary } from "./_fixtures/registry_fuzz_client.ts";
import { COOKIE, eventually, openSockets } from "./_helpers.ts";

const INPUTS = 100_000;
const SEED = 0x5eed_0e9d;
const CONCURRENCY = 128;
const HANDSHAKE_MS = 1500;
const CLIENT = new URL("./_fixtures/registry_fuzz_client.ts", import.meta.url).pathname;

Deno.test({
  name: `fuzz: a registry fed ${
    INPUTS.toLocaleString("en")
  } generated and mutated requests over TCP answers each well or closes, registers and reveals nothing unproven, keeps answering and leaks no socket`,
  // Server-side sockets close a moment after the answer; the descriptor count is checked instead.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const credentials = { kind: "cookie" as const, cookie: COOKIE };
    const registry = await RegistryServer.listen({
      credentials,
      port: 0,
      limits: { handshakeTimeoutMs: HANDSHAKE_MS },
      // Failed proofs are slowed down for real clients; here they would only slow the run.
      failureDelayMs: 0,
      maxFailureDelayMs: 0,
    });
    const lease = await register("fz-legit@localhost", 4999, {
      credentials,
      registryPort: registry.port,
    });
    const socketsBefore = openSockets();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLIENT,
        ...[registry.port, SEED, INPUTS, CONCURRENCY, HANDSHAKE_MS].map(String),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let checks = 0;
    const lost: unknown[] = [];
    try {
      let done = false;
      const output = child.output().finally(() => done = true);
      while (!done) {
        await new Promise((r) => setTimeout(r, 500));
        checks++;
        const port = await lookup("fz-legit@localhost", { port: registry.port, credentials });
        if (port !== 4999) lost.push(port);
      }
      const out = await output;
      assert.equal(out.code, 0, "the fuzz client ran to its end");
      const s = JSON.parse(new TextDecoder().decode(out.stdout).trim()) as ClientSummary;
      console.log(
        `registry fuzz: ${s.inputs} inputs: ${s.accepted} accepted, ${s.refused} refused, ${s.abandoned} abandoned, ${s.crashCount} crashes; ${checks} lookups meanwhile`,
      );
      assert.deepEqual(s.crashes, []);
      assert.equal(s.crashCount, 0);
      assert.equal(s.inputs, INPUTS);
      assert.equal(s.accepted, 0, "nothing was answered without its proof");
      assert.ok(s.answered > INPUTS / 2, `only ${s.answered} answered`);
      assert.deepEqual(lost, [], "the live registration answered every lookup");
      assert.ok(checks > 0);
      assert.deepEqual(await names({ port: registry.port, credentials }), [
        { name: "fz-legit@localhost", port: 4999 },
      ]);
      // Abandoned connections are dropped at the handshake limit; then every socket is closed.
      const settled = await eventually(
        () => openSockets() <= socketsBefore + 2,
        HANDSHAKE_MS + 5000,
      );
      assert.ok(settled, `sockets: ${openSockets()} now, ${socketsBefore} before`);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await lease.close();
      await registry.close();
    }
  },
});
