// A compromised server holds its agent's ticket, HMAC(cookie, agent name), and nothing else.
// With it, it can be that agent and no one more: no other name in the registry, no other
// name in a handshake, and no run/spawn/code-loading on the hub.
import assert from "node:assert/strict";
import { openConnection } from "../../src/dist/connection.ts";
import { encodeControl, OP } from "../../src/dist/control.ts";
import { type Credentials, ticketFor } from "../../src/dist/credentials.ts";
import { HandshakeRefusedError } from "../../src/dist/handshake.ts";
import { tcpConnect } from "../../src/dist/tcp.ts";
import { AuthenticationError, ProtocolError, RemoteError } from "../../src/errors.ts";
import { Node } from "../../src/node.ts";
import { lookup, register, registrationProof } from "../../src/registry/mod.ts";
import { Pid } from "../../src/wire/mod.ts";
import { Recorder } from "../support/transport_suite.ts";
import { RawClient } from "../unit/registry/_raw_client.ts";
import { COOKIE, eventually, rejection, within } from "./_helpers.ts";

const AGENT = "web01-feed@localhost";
const OTHER_AGENT = "web02-beef@localhost";
const TICKET = ticketFor(COOKIE, AGENT);

/** A hub, a plain local node, and two agents (ticket holders) attached to the hub. */
async function cluster() {
  const hub = await Node.start({ name: "hub", cookie: COOKIE, registryPort: 0 });
  const local = await Node.start({
    name: "local-peer",
    cookie: COOKIE,
    registryPort: hub.registryPort,
  });
  const agent = (name: string) =>
    Node.start({
      name,
      ticket: ticketFor(COOKIE, name),
      hub: hub.name,
      hubPort: hub.port,
      registryPort: hub.registryPort,
    });
  const a = await agent(AGENT);
  const b = await agent(OTHER_AGENT);
  await hub.connect(a.name);
  await hub.connect(b.name);
  await hub.connect(local.name);
  return {
    hub,
    local,
    a,
    b,
    async [Symbol.asyncDispose]() {
      for (const n of [a, b, local, hub]) await n.close();
    },
  };
}

Deno.test("an agent's ticket cannot register another name in the registry", async () => {
  await using c = await cluster();
  const ticket: Credentials = { kind: "ticket", name: AGENT, ticket: TICKET };
  const opts = { credentials: ticket, registryPort: c.hub.registryPort };
  // The library will not even try; a server speaking the protocol itself gets refused.
  await assert.rejects(register("fresh@localhost", 4000, opts), AuthenticationError);
  for (
    const [name, port] of [["fresh@localhost", 4000], [c.hub.name, 4001], [
      OTHER_AGENT,
      4002,
    ]] as const
  ) {
    const raw = await RawClient.connect(c.hub.registryPort);
    raw.send(["register", name, port]);
    const [tag, nonce] = await raw.next() as [string, Uint8Array];
    assert.equal(tag, "challenge");
    raw.send(["prove", registrationProof(TICKET, { nonce, name, port })]);
    const reply = await raw.next(5000) as unknown[];
    assert.deepEqual(reply.slice(0, 2), ["error", "auth_failed"], `registering ${name}`);
    await raw.closed;
  }
  // A node made with this ticket and another name fails to start.
  await assert.rejects(
    Node.start({ name: "fresh", ticket: TICKET, registryPort: c.hub.registryPort }),
    AuthenticationError,
  );
  const q = { port: c.hub.registryPort, credentials: c.hub.credentials };
  assert.equal(await lookup("fresh@localhost", q), undefined);
  assert.equal(await lookup(c.hub.name, q), c.hub.port);
  assert.equal(await lookup(OTHER_AGENT, q), c.b.port);
});

Deno.test("an agent's ticket cannot handshake as another node, with the hub or anyone else", async () => {
  await using c = await cluster();
  const dial = async (port: number, self: string, peer: string) => {
    const r = await within(
      openConnection(await tcpConnect(port), {
        role: "initiator",
        self,
        creation: 7,
        // Whatever name it claims, all it can prove with is its own ticket.
        credentials: { kind: "ticket", name: self, ticket: TICKET },
        peer,
        handlers: new Recorder(),
      }),
      5000,
      `handshake as ${self}`,
    );
    assert.ok(!r.ok, `${self} got in`);
    return r.error;
  };
  for (const claimed of [OTHER_AGENT, c.local.name, "fresh@localhost"]) {
    const e = await dial(c.hub.port, claimed, c.hub.name);
    assert.ok(e instanceof HandshakeRefusedError && e.reason === "auth", `${claimed}: ${e}`);
  }
  const self = await dial(c.hub.port, c.hub.name, c.hub.name);
  assert.ok(self instanceof HandshakeRefusedError && self.reason === "name", String(self));
  // Towards a plain node, and towards the other agent (two ticket holders never connect).
  const e1 = await dial(c.local.port, c.hub.name, c.local.name);
  assert.ok(e1 instanceof HandshakeRefusedError && e1.reason === "auth", String(e1));
  const e2 = await dial(c.b.port, AGENT, OTHER_AGENT);
  assert.ok(e2 instanceof HandshakeRefusedError, String(e2));
  // Its own name it can prove; the real connections are all still up.
  assert.deepEqual(c.hub.nodes().sort(), [AGENT, OTHER_AGENT, c.local.name].sort());
});

Deno.test("an agent's run, spawn and code-loading requests to the hub are refused, relayed or not", async () => {
  await using c = await cluster();
  const served: string[] = [];
  for (const kind of ["run", "runFun", "spawn", "code.store", "code.missing"]) {
    c.hub.serve(kind, () => served.push(kind));
    c.local.serve(kind, () => served.push(`local ${kind}`));
  }
  c.hub.serve("public", (x) => x, { allowTickets: true });
  for (const kind of ["run", "runFun", "spawn", "code.store", "code.missing"]) {
    const { error } = await rejection(
      c.a.request(c.hub.name, kind, { hash: "00", fn: "f", args: [] }, { timeoutMs: 5000 }),
      6000,
      kind,
    );
    assert.ok(error instanceof RemoteError, `${kind}: ${error}`);
    assert.equal(error.remoteName, "AuthenticationError", `${kind}: ${error.message}`);
    // Through the hub to another node: the hub does not relay an agent's requests.
    const relayed = await rejection(
      c.a.request(c.local.name, kind, null, { timeoutMs: 5000 }),
      6000,
      `${kind} via the hub`,
    );
    assert.ok(relayed.error instanceof RemoteError, String(relayed.error));
    assert.equal(relayed.error.remoteName, "AuthenticationError");
  }
  assert.deepEqual(served, [], "no handler ran");
  assert.equal(await c.a.request(c.hub.name, "public", 42, { timeoutMs: 5000 }), 42);
  // The hub itself, or another cookie holder, may call the same services.
  assert.equal(await c.local.request(c.hub.name, "run", null, { timeoutMs: 5000 }), 1);
  assert.deepEqual(served, ["run"]);
});

Deno.test("an agent's signal claiming to come from another node gets it disconnected, and the hub serves on", async () => {
  await using c = await cluster();
  using victim = c.hub.inbox();
  victim.trapExits();
  // Reach under the agent's API: send a raw control message over its hub connection.
  const rec = new Recorder();
  const rogue = "rogue-1@localhost";
  const conn = await openConnection(await tcpConnect(c.hub.port), {
    role: "initiator",
    self: rogue,
    creation: 1,
    credentials: { kind: "ticket", name: rogue, ticket: ticketFor(COOKIE, rogue) },
    peer: c.hub.name,
    handlers: rec,
  });
  const downs: { peer: string; reason: Error | undefined }[] = [];
  c.hub.onNodeDown((peer, reason) => downs.push({ peer, reason }));
  conn.send(encodeControl({
    op: OP.EXIT2,
    from: new Pid(c.local.name, 1, 1),
    to: victim.self,
    reason: "kill",
  }));
  await rec.downed(5000);
  assert.ok(await eventually(() => downs.some((d) => d.peer === rogue), 5000));
  assert.ok(downs.find((d) => d.peer === rogue)!.reason instanceof ProtocolError);
  assert.ok(c.hub.actors.isAlive(victim.self), "the forged exit signal was not handled");
  // The other agents are still served.
  c.hub.serve("public", (x) => x, { allowTickets: true });
  assert.equal(await c.a.request(c.hub.name, "public", "on", { timeoutMs: 5000 }), "on");
});
