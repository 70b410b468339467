import assert from "node:assert/strict";
import fc from "fast-check";
import { cookieKey, type Credentials, ticketFor } from "../../../src/dist/credentials.ts";
import {
  Handshake,
  type HandshakeOptions,
  HandshakeRefusedError,
  type HandshakeStep,
  PROTOCOL_VERSIONS,
} from "../../../src/dist/handshake.ts";
import { AuthenticationError, ProtocolError } from "../../../src/errors.ts";
import { Codec } from "../../../src/wire/codec.ts";

const cookie = new TextEncoder().encode("the-cluster-cookie-0123456789abcdef");
const otherCookie = new TextEncoder().encode("some-other-cookie-0123456789abcdef");
const HUB = "hub@localhost";
const AGENT = "web01@localhost";

const cookieCreds = (c = cookie): Credentials => ({ kind: "cookie", cookie: c });
const ticketCreds = (name: string, c = cookie): Credentials => ({
  kind: "ticket",
  name,
  ticket: ticketFor(c, name),
});

type Side = Omit<HandshakeOptions, "role">;

interface Outcome {
  init: HandshakeStep;
  acc: HandshakeStep;
  /** Every frame that crossed, in order, with its sender. */
  wire: [from: "init" | "acc", frame: unknown][];
}

/** Runs a handshake to its end by handing frames back and forth, as a carrier would. */
function runHandshake(initiator: Side, acceptor: Side): Outcome {
  const i = new Handshake({ ...initiator, role: "initiator" });
  const a = new Handshake({ ...acceptor, role: "acceptor" });
  const wire: Outcome["wire"] = [];
  let acc = a.start();
  let init = i.start();
  const toAcc = [...init.send];
  const toInit: unknown[] = [...acc.send];
  for (let round = 0; round < 10 && (toAcc.length || toInit.length); round++) {
    for (const f of toAcc.splice(0)) {
      wire.push(["init", f]);
      if (acc.error || acc.done) continue;
      acc = a.receive(f);
      toInit.push(...acc.send);
    }
    for (const f of toInit.splice(0)) {
      wire.push(["acc", f]);
      if (init.error || init.done) continue;
      init = i.receive(f);
      toAcc.push(...init.send);
    }
  }
  return { init, acc, wire };
}

function side(self: string, credentials: Credentials, extra: Partial<Side> = {}): Side {
  return { self, creation: 1, credentials, ...extra };
}

/** A fresh acceptor, started, waiting for a hello. */
function acceptor(credentials: Credentials = cookieCreds(), extra: Partial<Side> = {}): Handshake {
  const h = new Handshake({ ...side(HUB, credentials, extra), role: "acceptor" });
  h.start();
  return h;
}

/** A valid hello from `name`, with fields overridable by index. */
function hello(name = AGENT, kind: "cookie" | "ticket" = "cookie"): unknown[] {
  return ["hello", [...PROTOCOL_VERSIONS], name, new Uint8Array(32), kind, 1, ""];
}

function assertProtocolError(step: HandshakeStep, what: string): void {
  assert.ok(step.error, `${what}: expected an error`);
  assert.ok(step.error instanceof ProtocolError, `${what}: got ${step.error}`);
  assert.equal(step.done, undefined, what);
}

Deno.test("two cookie holders complete the handshake and learn each other", () => {
  const { init, acc } = runHandshake(
    side(AGENT, cookieCreds(), { creation: 11, peer: HUB }),
    side(HUB, cookieCreds(), { creation: 22 }),
  );
  assert.equal(init.error, undefined);
  assert.equal(acc.error, undefined);
  assert.deepEqual(init.done, {
    peer: HUB,
    peerCreation: 22,
    version: 1,
    peerCredential: "cookie",
  });
  assert.deepEqual(acc.done, {
    peer: AGENT,
    peerCreation: 11,
    version: 1,
    peerCredential: "cookie",
  });
});

Deno.test('a wrong cookie is refused: AuthenticationError on the acceptor, "auth" refusal on the initiator', () => {
  const { init, acc, wire } = runHandshake(
    side(AGENT, cookieCreds(otherCookie)),
    side(HUB, cookieCreds()),
  );
  assert.ok(acc.error instanceof AuthenticationError, String(acc.error));
  assert.deepEqual(acc.send, [["refuse", "auth", "authentication failed"]]);
  assert.ok(init.error instanceof HandshakeRefusedError, String(init.error));
  assert.equal((init.error as HandshakeRefusedError).reason, "auth");
  assert.equal(init.error.name, "HandshakeRefusedError");
  assert.equal(init.done, undefined);
  assert.equal(acc.done, undefined);
  assert.equal(wire.at(-1)?.[0], "acc");
});

Deno.test("a ticket holder can dial a cookie holder", () => {
  const { init, acc } = runHandshake(
    side(AGENT, ticketCreds(AGENT), { peer: HUB }),
    side(HUB, cookieCreds()),
  );
  assert.equal(init.done?.peerCredential, "cookie");
  assert.equal(acc.done?.peerCredential, "ticket");
  assert.equal(acc.done?.peer, AGENT);
});

Deno.test("a cookie holder can dial a ticket holder", () => {
  const { init, acc } = runHandshake(
    side(HUB, cookieCreds(), { peer: AGENT }),
    side(AGENT, ticketCreds(AGENT)),
  );
  assert.equal(init.done?.peerCredential, "ticket");
  assert.equal(acc.done?.peerCredential, "cookie");
});

Deno.test("a ticket from another cookie is refused in both directions", () => {
  const r1 = runHandshake(side(AGENT, ticketCreds(AGENT, otherCookie)), side(HUB, cookieCreds()));
  assert.ok(r1.acc.error instanceof AuthenticationError);
  assert.equal((r1.init.error as HandshakeRefusedError).reason, "auth");
  const r2 = runHandshake(side(HUB, cookieCreds()), side(AGENT, ticketCreds(AGENT, otherCookie)));
  assert.ok(r2.acc.error instanceof AuthenticationError);
  assert.equal((r2.init.error as HandshakeRefusedError).reason, "auth");
});

Deno.test("a ticket for name X used by a node claiming name Y is refused", () => {
  const stolen = ticketFor(cookie, "x@localhost");
  // A forger labels X's ticket as its own name: the cookie holder derives Y's key instead.
  const forged: Credentials = { kind: "ticket", name: "y@localhost", ticket: stolen };
  const dial = runHandshake(side("y@localhost", forged), side(HUB, cookieCreds()));
  assert.ok(dial.acc.error instanceof AuthenticationError, String(dial.acc.error));
  assert.equal((dial.init.error as HandshakeRefusedError).reason, "auth");
  assert.equal(dial.acc.done, undefined);
  // As an acceptor posing as Y, it cannot check the dialler's proof either.
  const accept = runHandshake(
    side(HUB, cookieCreds(), { peer: "y@localhost" }),
    side("y@localhost", forged),
  );
  assert.ok(accept.acc.error instanceof AuthenticationError);
  assert.equal(accept.init.done, undefined);
  // And an honest node whose ticket names someone else fails before sending anything.
  const honest = new Handshake({
    role: "initiator",
    ...side("y@localhost", ticketCreds("x@localhost")),
  });
  const first = honest.start();
  assert.deepEqual(first.send, []);
  assert.ok(first.error instanceof AuthenticationError, String(first.error));
});

Deno.test("two ticket holders cannot connect to each other", () => {
  const { init, acc } = runHandshake(
    side("a@h", ticketCreds("a@h")),
    side("b@h", ticketCreds("b@h")),
  );
  assert.ok(acc.error instanceof HandshakeRefusedError);
  assert.equal((acc.error as HandshakeRefusedError).reason, "ticket");
  assert.equal((init.error as HandshakeRefusedError).reason, "ticket");
});

Deno.test("a ticket holder refuses an acceptor that also only holds a ticket, without sending a proof", () => {
  const i = new Handshake({ role: "initiator", ...side(AGENT, ticketCreds(AGENT)) });
  i.start();
  const step = i.receive(["challenge", 1, HUB, new Uint8Array(32), "ticket", 1]);
  assert.deepEqual(step.send, []);
  assert.equal((step.error as HandshakeRefusedError).reason, "ticket");
});

Deno.test("version negotiation picks the highest common version, and none in common is refused", () => {
  const a = acceptor();
  const ok = a.receive([
    "hello",
    [0, 1, 99, "x", null],
    AGENT,
    new Uint8Array(32),
    "cookie",
    1,
    "",
  ]);
  assert.equal(ok.error, undefined);
  assert.deepEqual((ok.send[0] as unknown[]).slice(0, 2), ["challenge", 1]);
  const b = acceptor();
  const none = b.receive(["hello", [2, 3], AGENT, new Uint8Array(32), "cookie", 1, ""]);
  assert.deepEqual(none.send, [["refuse", "version", "no common protocol version"]]);
  assert.equal((none.error as HandshakeRefusedError).reason, "version");
  const c = acceptor();
  const empty = c.receive(["hello", [], AGENT, new Uint8Array(32), "cookie", 1, ""]);
  assert.equal((empty.error as HandshakeRefusedError).reason, "version");
  // The initiator refuses a challenge for a version it did not offer.
  const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
  i.start();
  assertProtocolError(
    i.receive(["challenge", 7, HUB, new Uint8Array(32), "cookie", 1]),
    "unoffered version",
  );
});

Deno.test("a hello offering a huge list of versions is a ProtocolError, not a crash", () => {
  const versions = new Array(300_000).fill(1);
  const step = acceptor().receive(["hello", versions, AGENT, new Uint8Array(32), "cookie", 1, ""]);
  assertProtocolError(step, "huge versions");
});

Deno.test('dialling the wrong node name is refused with "name"', () => {
  const { init, acc } = runHandshake(
    side(AGENT, cookieCreds(), { peer: "other@localhost" }),
    side(HUB, cookieCreds()),
  );
  assert.equal((acc.error as HandshakeRefusedError).reason, "name");
  assert.equal((init.error as HandshakeRefusedError).reason, "name");
  assert.match(init.error!.message, /not other@localhost/);
});

Deno.test("an acceptor answering with another name than the one dialled is refused by the initiator", () => {
  const i = new Handshake({
    role: "initiator",
    ...side(AGENT, cookieCreds(), { peer: HUB }),
  });
  i.start();
  const step = i.receive(["challenge", 1, "imposter@localhost", new Uint8Array(32), "cookie", 1]);
  assert.equal((step.error as HandshakeRefusedError).reason, "name");
  assert.deepEqual(step.send, []);
});

Deno.test("a node cannot connect to itself", () => {
  const { acc, init } = runHandshake(side(HUB, cookieCreds()), side(HUB, cookieCreds()));
  assert.equal((acc.error as HandshakeRefusedError).reason, "name");
  assert.equal((init.error as HandshakeRefusedError).reason, "name");
});

Deno.test("admit() can turn a named initiator away with its own code, before any proof", () => {
  const seen: string[] = [];
  const { init, acc, wire } = runHandshake(
    side(AGENT, cookieCreds()),
    side(HUB, cookieCreds(), {
      admit: (peer) => {
        seen.push(peer);
        return "pending";
      },
    }),
  );
  assert.deepEqual(seen, [AGENT]);
  assert.equal((acc.error as HandshakeRefusedError).reason, "pending");
  assert.equal((init.error as HandshakeRefusedError).reason, "pending");
  assert.equal(wire.length, 2, "hello and refuse only");
});

Deno.test("the cookie and tickets never appear on the wire", () => {
  const codec = new Codec();
  const secrets = [
    cookie,
    ticketFor(cookie, AGENT),
    ticketFor(cookie, HUB),
    cookieKey(cookieCreds())!,
  ];
  for (
    const [i, a] of [
      [side(AGENT, cookieCreds()), side(HUB, cookieCreds())],
      [side(AGENT, ticketCreds(AGENT)), side(HUB, cookieCreds())],
      [side(HUB, cookieCreds()), side(AGENT, ticketCreds(AGENT))],
    ] as const
  ) {
    const { wire, init, acc } = runHandshake(i, a);
    assert.ok(init.done && acc.done);
    for (const [, frame] of wire) {
      const bytes = codec.encode(frame);
      for (const secret of secrets) assert.equal(indexOf(bytes, secret), -1);
    }
  }
});

Deno.test("a proof recorded from one handshake does not pass in another (fresh nonces)", () => {
  const first = runHandshake(side(AGENT, cookieCreds()), side(HUB, cookieCreds()));
  const recordedProof = first.wire.find(([, f]) => (f as unknown[])[0] === "proof")![1];
  const a = acceptor();
  const challenge = a.receive(hello());
  assert.equal(challenge.error, undefined);
  const step = a.receive(recordedProof);
  assert.ok(step.error instanceof AuthenticationError);
  assert.equal(step.done, undefined);
});

Deno.test("an initiator's own proof reflected back as the ack is refused", () => {
  const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
  i.start();
  const proof = i.receive(["challenge", 1, HUB, new Uint8Array(32).fill(7), "cookie", 1]);
  const mac = (proof.send[0] as unknown[])[1];
  const step = i.receive(["ack", mac]);
  assert.ok(step.error instanceof AuthenticationError);
  assert.equal(step.done, undefined);
});

Deno.test("an ack with a wrong MAC fails the initiator with AuthenticationError", () => {
  const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
  i.start();
  i.receive(["challenge", 1, HUB, new Uint8Array(32), "cookie", 1]);
  const step = i.receive(["ack", new Uint8Array(32)]);
  assert.ok(step.error instanceof AuthenticationError);
});

Deno.test("nonces come from the random source option", () => {
  const i = new Handshake({
    role: "initiator",
    ...side(AGENT, cookieCreds()),
    random: (n) => new Uint8Array(n).fill(9),
  });
  const [frame] = i.start().send as unknown[][];
  assert.deepEqual(frame![3], new Uint8Array(32).fill(9));
});

// ---- malformed frames --------------------------------------------------------------

Deno.test("garbage as the first frame is a ProtocolError", () => {
  const garbage: unknown[] = [
    "hello",
    42,
    null,
    undefined,
    {},
    { 0: "hello" },
    [],
    [1, 2, 3],
    [42, "hello"],
    new Uint8Array(10),
    ["proof", new Uint8Array(32)],
    ["challenge", 1, HUB, new Uint8Array(32), "cookie", 1],
    ["ack", new Uint8Array(32)],
    ["refuse", "auth", "no"],
    [1, "a pid", "a message"], // a control frame
  ];
  for (const g of garbage) {
    const step = acceptor().receive(g);
    assertProtocolError(step, `acceptor <- ${Deno.inspect(g)}`);
    const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
    i.start();
    if (Array.isArray(g) && g[0] === "refuse") continue; // a refusal is the initiator's answer
    if (Array.isArray(g) && g[0] === "challenge") continue; // valid for an initiator
    assertProtocolError(i.receive(g), `initiator <- ${Deno.inspect(g)}`);
  }
});

Deno.test("every malformed hello is a ProtocolError", () => {
  const bad: [number, unknown][] = [
    [1, "1"],
    [1, null],
    [1, { 0: 1 }],
    [2, ""],
    [2, 7],
    [2, "n".repeat(256)],
    [3, new Uint8Array(31)],
    [3, new Uint8Array(33)],
    [3, "x".repeat(32)],
    [3, Array(32).fill(0)],
    [4, "password"],
    [4, null],
    [5, -1],
    [5, 1.5],
    [5, 2 ** 32],
    [5, "1"],
    [5, NaN],
    [6, null],
    [6, 3],
  ];
  for (const [idx, value] of bad) {
    const h = hello();
    h[idx] = value;
    assertProtocolError(acceptor().receive(h), `hello[${idx}] = ${Deno.inspect(value)}`);
  }
  assertProtocolError(acceptor().receive(hello().slice(0, 6)), "short hello");
  assertProtocolError(acceptor().receive([...hello(), "extra"]), "long hello");
  assertProtocolError(acceptor().receive(["HELLO", ...hello().slice(1)]), "tag");
});

Deno.test("every malformed challenge is a ProtocolError", () => {
  const good = () => ["challenge", 1, HUB, new Uint8Array(32), "cookie", 1] as unknown[];
  const bad: [number, unknown][] = [
    [1, "1"],
    [1, 2],
    [2, ""],
    [2, 5],
    [3, new Uint8Array(16)],
    [3, null],
    [4, "root"],
    [5, -3],
    [5, 0.5],
  ];
  const fresh = () => {
    const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
    i.start();
    return i;
  };
  for (const [idx, value] of bad) {
    const c = good();
    c[idx] = value;
    assertProtocolError(fresh().receive(c), `challenge[${idx}] = ${Deno.inspect(value)}`);
  }
  assertProtocolError(fresh().receive(good().slice(0, 5)), "short challenge");
  assertProtocolError(fresh().receive([...good(), 0]), "long challenge");
  assertProtocolError(fresh().receive(["proof", new Uint8Array(32)]), "proof instead");
});

Deno.test("every malformed proof is a ProtocolError and a bad MAC an AuthenticationError", () => {
  const fresh = () => {
    const a = acceptor();
    a.receive(hello());
    return a;
  };
  for (
    const p of [
      ["proof"],
      ["proof", new Uint8Array(32), 1],
      ["ack", new Uint8Array(32)],
      ["hello", new Uint8Array(32)],
      ["proof", "mac"],
      ["proof", new Uint8Array(0)],
      ["proof", new Uint8Array(1 << 12)],
      ["proof", null],
    ]
  ) {
    assertProtocolError(fresh().receive(p), `proof ${Deno.inspect(p)}`);
  }
  const wrong = fresh().receive(["proof", new Uint8Array(32)]);
  assert.ok(wrong.error instanceof AuthenticationError);
  assert.deepEqual(wrong.send, [["refuse", "auth", "authentication failed"]]);
});

Deno.test("every malformed ack is a ProtocolError", () => {
  const fresh = () => {
    const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
    i.start();
    i.receive(["challenge", 1, HUB, new Uint8Array(32), "cookie", 1]);
    return i;
  };
  for (
    const p of [
      ["ack"],
      ["ack", new Uint8Array(32), 0],
      ["proof", new Uint8Array(32)],
      ["ack", 5],
      ["ack", new Uint8Array(31)],
      [],
      "ack",
    ]
  ) {
    assertProtocolError(fresh().receive(p), `ack ${Deno.inspect(p)}`);
  }
});

Deno.test("a refusal without a string code is still a HandshakeRefusedError", () => {
  const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
  i.start();
  const step = i.receive(["refuse", 42]);
  assert.ok(step.error instanceof HandshakeRefusedError);
  assert.equal((step.error as HandshakeRefusedError).reason, "unknown");
});

Deno.test("frames after the handshake ended, done or failed, are ProtocolErrors", () => {
  const { wire } = runHandshake(side(AGENT, cookieCreds()), side(HUB, cookieCreds()));
  const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
  i.start();
  const challenge = wire.find(([, f]) => (f as unknown[])[0] === "challenge")![1];
  i.receive(challenge);
  const failed = i.receive(["ack", new Uint8Array(32)]);
  assert.ok(failed.error);
  assertProtocolError(i.receive(["ack", new Uint8Array(32)]), "after failure");
  const a = acceptor();
  assert.ok(a.receive(["nonsense"]).error);
  assertProtocolError(a.receive(hello()), "hello after failure");
});

Deno.test("any value at any step gives a ProtocolError or goes on; receive() never throws", () => {
  const states: (() => Handshake)[] = [
    () => acceptor(),
    () => acceptor(ticketCreds(HUB)),
    () => {
      const a = acceptor();
      a.receive(hello());
      return a;
    },
    () => {
      const i = new Handshake({ role: "initiator", ...side(AGENT, cookieCreds()) });
      i.start();
      return i;
    },
    () => {
      const i = new Handshake({ role: "initiator", ...side(AGENT, ticketCreds(AGENT)) });
      i.start();
      i.receive(["challenge", 1, HUB, new Uint8Array(32), "cookie", 1]);
      return i;
    },
  ];
  const tagged = fc.tuple(
    fc.constantFrom("hello", "challenge", "proof", "ack", "refuse"),
    fc.array(fc.anything({ withTypedArray: true, withBigInt: true, withMap: true }), {
      maxLength: 8,
    }),
  ).map(([tag, rest]) => [tag, ...rest]);
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: states.length - 1 }),
      fc.oneof(fc.anything({ withTypedArray: true, withBigInt: true }), tagged),
      (which, frame) => {
        const step = states[which]!().receive(frame);
        if (step.error) assert.ok(step.error instanceof ProtocolError, String(step.error));
        else assert.ok(step.send.length > 0, "a frame that is not refused gets an answer");
      },
    ),
    { numRuns: 2000, seed: 4242 },
  );
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
