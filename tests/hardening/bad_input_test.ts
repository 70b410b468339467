// Bad input at a node's and a registry's door: each gives a typed error, the bad peer is
// disconnected, the node keeps serving others, and nothing leaks.
import assert from "node:assert/strict";
import { type Connection, openConnection } from "../../src/dist/connection.ts";
import { encodeControl, OP } from "../../src/dist/control.ts";
import type { Credentials } from "../../src/dist/credentials.ts";
import { HandshakeRefusedError } from "../../src/dist/handshake.ts";
import { tcpConnect } from "../../src/dist/tcp.ts";
import {
  AuthenticationError,
  NameTakenError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "../../src/errors.ts";
import type { Limits } from "../../src/limits.ts";
import { Node } from "../../src/node.ts";
import { lookup, RegistryServer } from "../../src/registry/mod.ts";
import { Codec, Pid, Ref } from "../../src/wire/mod.ts";
import { Recorder } from "../support/transport_suite.ts";
import { frameOf } from "../support/fuzz.ts";
import {
  COOKIE,
  eventually,
  openSockets,
  rawDial,
  rejection,
  rssMiB,
  sleep,
  within,
} from "./_helpers.ts";

const WRONG = new TextEncoder().encode("a-wrong-cookie-0123456789abcdef!");
const codec = new Codec();

/** A node for one test, plus a friend that checks it still serves. */
async function pair(name: string, limits: Partial<Limits> = {}) {
  const node = await Node.start({ name, cookie: COOKIE, registryPort: 0, limits });
  const friend = await Node.start({
    name: `${name}-friend`,
    cookie: COOKIE,
    registryPort: node.registryPort,
  });
  node.serve("echo", (x) => x);
  const downs: { peer: string; reason: Error | undefined }[] = [];
  node.onNodeDown((peer, reason) => downs.push({ peer, reason }));
  const serves = async (v: unknown) =>
    assert.deepEqual(await friend.request(node.name, "echo", v, { timeoutMs: 5000 }), v);
  return {
    node,
    friend,
    downs,
    serves,
    async [Symbol.asyncDispose]() {
      await friend.close();
      await node.close();
    },
  };
}

/** A peer that completed a real handshake with `node`, to send it raw frames. */
async function peer(
  node: Node,
  self: string,
  credentials: Credentials = { kind: "cookie", cookie: COOKIE },
): Promise<{ conn: Connection; rec: Recorder }> {
  const rec = new Recorder();
  const conn = await openConnection(await tcpConnect(node.port), {
    role: "initiator",
    self,
    creation: 1,
    credentials,
    peer: node.name,
    handlers: rec,
  });
  return { conn, rec };
}

/** Resolves with the reason `node` gave for dropping `peerName`. */
async function dropReason(
  downs: { peer: string; reason: Error | undefined }[],
  peerName: string,
): Promise<Error | undefined> {
  assert.ok(await eventually(() => downs.some((d) => d.peer === peerName), 5000), "dropped");
  return downs.find((d) => d.peer === peerName)!.reason;
}

Deno.test("a nesting bomb after the handshake drops that peer with ProtocolError; the node keeps serving", async () => {
  await using t = await pair("bomb");
  const cases: [string, Uint8Array][] = [
    ["100,000 nested arrays", new Uint8Array(100_001).fill(0x81, 0, 100_000)],
    ["100,000 nested indefinite arrays", new Uint8Array(100_001).fill(0x9f, 0, 100_000)],
    ["50,000 nested maps", new Uint8Array(100_001).fill(0xa1, 0, 100_000)],
    ["100,000 nested tags", new Uint8Array(200_001).fill(0xc1, 0, 200_000)],
  ];
  for (const [i, [what, body]] of cases.entries()) {
    const name = `bomber-${i}@localhost`;
    const { conn, rec } = await peer(t.node, name);
    conn.sendFrame(frameOf(body));
    conn.send(encodeControl({ op: OP.SEND, to: new Pid(t.node.name, 1, t.node.creation), msg: 1 }));
    const reason = await dropReason(t.downs, name);
    assert.ok(reason instanceof ProtocolError, `${what}: ${reason}`);
    await rec.downed(5000);
    await t.serves(what);
  }
  // And before the handshake, inside the 4 KiB a hello may take.
  const { t: raw, closed } = await rawDial(t.node.port);
  raw.write(frameOf(new Uint8Array(4001).fill(0x81, 0, 4000)));
  await within(closed, 2000, "close of a bomb in place of a hello");
  await t.serves("after");
});

Deno.test("a 4 GiB length prefix is refused before any allocation, and half-sent frames cost no more than what arrived (RSS flat)", async () => {
  await using t = await pair("huge");
  const big = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = rssMiB();
  // Before the handshake: refused at once, whatever the size.
  for (let i = 0; i < 50; i++) {
    const { t: raw, closed } = await rawDial(t.node.port);
    raw.write(new Uint8Array([...big(0xffffffff), 1, 2, 3]));
    await within(closed, 2000, "refusal of a 4 GiB prefix before the handshake");
  }
  // After it: the peer is dropped with ProtocolError at the prefix.
  const held: Connection[] = [];
  for (let i = 0; i < 50; i++) {
    const name = `huge-${i}@localhost`;
    const { conn } = await peer(t.node, name);
    conn.sendFrame(new Uint8Array([...big(0xffffffff), 9, 9, 9]));
    const reason = await dropReason(t.downs, name);
    assert.ok(reason instanceof ProtocolError && /exceeds maxFrameBytes/.test(reason.message));
    // One just under the limit, with 10 bytes of it sent: held open, buffered as it arrives.
    const { conn: slow } = await peer(t.node, `slow-${i}@localhost`);
    slow.sendFrame(
      new Uint8Array([...big(t.node.limits.maxFrameBytes - 1), ...new Uint8Array(10)]),
    );
    held.push(slow);
  }
  await t.serves("meanwhile");
  await sleep(200);
  const grew = rssMiB() - rssBefore;
  console.log(
    `RSS grew by ${
      grew.toFixed(1)
    } MiB for 100 refused 4 GiB prefixes and 50 frames of 16 MiB announced`,
  );
  // 50 announced 16 MiB frames would be 800 MiB if allocated up front.
  assert.ok(grew < 64, `RSS grew by ${grew.toFixed(1)} MiB`);
  for (const c of held) c.close();
});

Deno.test("a slow handshake is dropped at the handshake limit, and many of them do not keep others out", async () => {
  const limitMs = 800;
  await using t = await pair("slowhs", { handshakeTimeoutMs: limitMs });
  const hello = codec.encodeFrame([
    "hello",
    [1],
    "loris@localhost",
    new Uint8Array(32),
    "cookie",
    1,
    t.node.name,
  ]).slice();
  await t.serves("before"); // the friend's connection is open before counting
  const socketsBefore = openSockets();
  const lorises = await Promise.all(Array.from({ length: 100 }, () => rawDial(t.node.port)));
  const t0 = performance.now();
  let sent = 0;
  const drip = setInterval(() => {
    if (sent < hello.length) { for (const l of lorises) l.t.write(hello.subarray(sent, sent + 1)); }
    sent++;
  }, 50);
  try {
    // A real node gets in while they drip.
    await t.serves("while dripping");
    const closedAt = await Promise.all(
      lorises.map((l) =>
        within(l.closed, limitMs + 3000, "drop").then(() => performance.now() - t0)
      ),
    );
    const first = Math.min(...closedAt);
    const last = Math.max(...closedAt);
    assert.ok(first >= limitMs * 0.9, `dropped after ${first.toFixed(0)} ms, before the limit`);
    assert.ok(last <= limitMs * 1.25 + 500, `dropped after ${last.toFixed(0)} ms`);
    assert.ok(sent * 1 < hello.length, "they were dropped before the hello was complete");
  } finally {
    clearInterval(drip);
  }
  assert.deepEqual(t.node.nodes(), [t.friend.name]);
  assert.ok(await eventually(() => openSockets() <= socketsBefore + 1, 3000), "no socket left");
});

Deno.test("control frames sent before or inside the handshake are never handled", async () => {
  await using t = await pair("early");
  using target = t.node.inbox();
  t.node.register("target", target.self);
  const smuggled = [
    encodeControl({ op: OP.SEND, to: target.self, msg: "smuggled" }),
    encodeControl({ op: OP.SEND_NAMED, name: "target", node: t.node.name, msg: "named" }),
    encodeControl({
      op: OP.EXIT2,
      from: new Pid("x@localhost", 1, 1),
      to: target.self,
      reason: "kill",
    }),
    encodeControl({
      op: OP.REQUEST,
      from: new Pid("x@localhost", 1, 1),
      node: t.node.name,
      ref: new Ref("x@localhost", 1, 1),
      kind: "echo",
      payload: 1,
    }),
  ];
  // First thing on the wire; after a good hello in place of the proof; in the same chunk as the proof.
  const hello = ["hello", [1], "x@localhost", new Uint8Array(32), "cookie", 1, t.node.name];
  const scripts: unknown[][] = [
    [...smuggled, hello],
    [hello, ...smuggled],
    [hello, ["proof", new Uint8Array(32)], ...smuggled],
  ];
  for (const script of scripts) {
    const { t: raw, closed } = await rawDial(t.node.port);
    raw.write(new Uint8Array(script.flatMap((v) => [...codec.encodeFrame(v)])));
    await within(closed, 3000, "close");
  }
  await t.serves("after");
  assert.ok(t.node.actors.isAlive(target.self), "the exit signal was not handled");
  await assert.rejects(target.receive({ timeoutMs: 100 }), TimeoutError);
});

Deno.test("a wrong cookie is refused within 1 s; repeated failures, from any connection, are refused ever more slowly; the cookie still gets in at once", async () => {
  await using t = await pair("guarded");
  const wrong: Credentials = { kind: "cookie", cookie: WRONG };
  const attempt = async (credentials: Credentials, self: string) => {
    const t0 = performance.now();
    const r = await within(
      openConnection(await tcpConnect(t.node.port), {
        role: "initiator",
        self,
        creation: 1,
        credentials,
        peer: t.node.name,
        handlers: new Recorder(),
        limits: { handshakeTimeoutMs: 10_000 },
      }),
      10_000,
      "handshake",
    );
    return { r, ms: performance.now() - t0 };
  };
  const times: number[] = [];
  for (let i = 0; i < 6; i++) {
    const { r, ms } = await attempt(wrong, `guesser-${i}@localhost`);
    assert.ok(!r.ok && r.error instanceof HandshakeRefusedError && r.error.reason === "auth");
    times.push(ms);
    if (i === 0) {
      // A cookie holder is not held up by the failures of others.
      const ok = await attempt({ kind: "cookie", cookie: COOKIE }, "welcome@localhost");
      assert.ok(ok.r.ok, "the right cookie got in");
      assert.ok(ok.ms < 1000, `the right cookie took ${ok.ms.toFixed(0)} ms`);
      ok.r.value.close();
    }
  }
  console.log(`refusals of 6 wrong cookies took ${times.map((x) => x.toFixed(0)).join(", ")} ms`);
  assert.ok(times[0]! < 1000, `the first refusal took ${times[0]!.toFixed(0)} ms`);
  // The delay doubles per failure (50 ms .. 1.6 s): the sixth waits at least eight times the first's.
  assert.ok(times[5]! >= 800, `the sixth refusal took only ${times[5]!.toFixed(0)} ms`);
  assert.ok(times[5]! > times[0]! * 4);
  // And through the public API: a node with the wrong cookie cannot connect.
  const intruder = await Node.start({
    name: "intruder",
    cookie: WRONG,
    registryPort: t.node.registryPort,
    register: false,
  });
  try {
    const { error } = await rejection(intruder.connect(t.node.name), 5000, "connect");
    assert.ok(error instanceof ProtocolError, String(error));
    assert.ok(!t.node.nodes().includes(intruder.name));
  } finally {
    await intruder.close();
  }
  await t.serves("still");
});

Deno.test("a live node's name cannot be taken over: not in the registry, not by a handshake without its credentials", async () => {
  await using t = await pair("owner");
  await t.friend.connect(t.node.name);
  await assert.rejects(
    Node.start({ name: "owner", cookie: COOKIE, registryPort: t.node.registryPort }),
    NameTakenError,
  );
  await assert.rejects(
    Node.start({ name: "owner", cookie: WRONG, registryPort: t.node.registryPort }),
    AuthenticationError,
  );
  assert.equal(
    await lookup(t.node.name, { port: t.node.registryPort, credentials: t.node.credentials }),
    t.node.port,
  );
  // Posing as the friend towards the node: refused, and the real friend stays connected.
  for (
    const credentials of [
      { kind: "cookie", cookie: WRONG },
      { kind: "ticket", name: t.friend.name, ticket: new Uint8Array(32) },
    ] satisfies Credentials[]
  ) {
    const r = await within(
      openConnection(await tcpConnect(t.node.port), {
        role: "initiator",
        self: t.friend.name,
        creation: 999,
        credentials,
        peer: t.node.name,
        handlers: new Recorder(),
      }),
      5000,
      "impostor",
    );
    assert.ok(!r.ok && r.error instanceof ProtocolError, String(!r.ok && r.error));
  }
  assert.ok(t.node.nodes().includes(t.friend.name));
  await t.serves("the real one");
});

Deno.test("a reply carrying a hostile value in place of an error still settles the request", async () => {
  await using t = await pair("asker");
  const name = "answerer@localhost";
  const { conn, rec } = await peer(t.node, name);
  const asked = t.node.request(name, "anything", null, { timeoutMs: 5000 });
  await rec.until(() => rec.messages.length > 0, 5000, "the request");
  const [op, from, , ref] = rec.messages[0] as [number, Pid, string, Ref];
  assert.equal(op, OP.REQUEST);
  // An object whose own toString is not a function: String() of it throws.
  conn.send(
    encodeControl({ op: OP.REPLY, node: from.node, ref, ok: false, value: { toString: 1 } }),
  );
  const { error } = await rejection(asked, 5000, "the request");
  assert.ok(error instanceof RemoteError, String(error));
  assert.ok(t.node.nodes().includes(name), "and the peer is not dropped for it");
  conn.close();
});

Deno.test({
  name:
    "10,000 registry connections opened and abandoned: the registry keeps answering, drops them at its limit and leaks no socket",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const limitMs = 20_000; // opening 10,000 takes a few seconds here, more under load
    const registry = await RegistryServer.listen({
      credentials: { kind: "cookie", cookie: COOKIE },
      port: 0,
      limits: { handshakeTimeoutMs: limitMs },
    });
    const node = await Node.start({
      name: "reg-user",
      cookie: COOKIE,
      registryPort: registry.port,
    });
    const socketsBefore = openSockets();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_fixtures/abandon_registry.ts", import.meta.url).pathname,
        String(registry.port),
        "10000",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) break;
        out += value;
      }
      assert.match(out, /^held 10000 /, out);
      const openNow = openSockets() - socketsBefore;
      // While they are all open, the registry answers at once.
      const t0 = performance.now();
      assert.equal(
        await lookup(node.name, { port: registry.port, credentials: node.credentials }),
        node.port,
      );
      const ms = performance.now() - t0;
      console.log(
        `${out.trim()}; with ${openNow} of them open here, a lookup took ${ms.toFixed(0)} ms`,
      );
      assert.ok(openNow >= 9000, `only ${openNow} connections were open at once`);
      // At the handshake limit the registry drops them all: every descriptor is back.
      const back = await eventually(
        () => openSockets() <= socketsBefore + 2,
        limitMs + 10_000,
        100,
      );
      assert.ok(back, `${openSockets() - socketsBefore} sockets left`);
      assert.equal(
        await lookup(node.name, { port: registry.port, credentials: node.credentials }),
        node.port,
      );
      lines.releaseLock();
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await node.close();
      await registry.close();
    }
  },
});
