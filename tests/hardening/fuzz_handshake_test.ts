// Fuzz of the handshake: the Handshake state machine at each of its four waiting states, for
// each pairing of credentials, fed genuine frames with one thing changed, frames rebuilt from
// mutated bytes, and random values, 100,000 in all. Then the same over TCP, against a live
// Node. tests/unit/dist/handshake_test.ts covers each rule; this looks for what slips through.
import assert from "node:assert/strict";
import { openConnection } from "../../src/dist/connection.ts";
import { type Credentials, ticketFor } from "../../src/dist/credentials.ts";
import { Handshake, type HandshakeOptions, type HandshakeStep } from "../../src/dist/handshake.ts";
import { tcpConnect } from "../../src/dist/tcp.ts";
import { ProtocolError, TimeoutError } from "../../src/errors.ts";
import { Node } from "../../src/node.ts";
import { Codec } from "../../src/wire/codec.ts";
import { RawEnd, Recorder } from "../support/transport_suite.ts";
import { describe, frameOf, mutate, randomValue, Rng, Tally } from "../support/fuzz.ts";
import { bytesEqual, COOKIE, within } from "./_helpers.ts";

const INPUTS = 100_000;
const SEED = 0x5eed_0011;
const A = "fz-a@localhost";
const B = "fz-b@localhost";
const codec = new Codec();

type Waiting = "acceptor:hello" | "acceptor:proof" | "initiator:challenge" | "initiator:ack";
const WAITING: Waiting[] = [
  "acceptor:hello",
  "acceptor:proof",
  "initiator:challenge",
  "initiator:ack",
];

interface Pairing {
  label: string;
  a: Credentials;
  b: Credentials;
  /** Whether the genuine exchange completes (false for a wrong cookie). */
  completes: boolean;
}

const WRONG = new TextEncoder().encode("not-the-cookie-0123456789abcdef!");
const PAIRINGS: Pairing[] = [
  {
    label: "cookie/cookie",
    a: { kind: "cookie", cookie: COOKIE },
    b: { kind: "cookie", cookie: COOKIE },
    completes: true,
  },
  {
    label: "ticket/cookie",
    a: { kind: "ticket", name: A, ticket: ticketFor(COOKIE, A) },
    b: { kind: "cookie", cookie: COOKIE },
    completes: true,
  },
  {
    label: "cookie/ticket",
    a: { kind: "cookie", cookie: COOKIE },
    b: { kind: "ticket", name: B, ticket: ticketFor(COOKIE, B) },
    completes: true,
  },
  {
    label: "wrong cookie",
    a: { kind: "cookie", cookie: WRONG },
    b: { kind: "cookie", cookie: COOKIE },
    completes: false,
  },
];

// Fixed nonces make the genuine exchange the same every time, so it is computed once.
const fixedRandom = (fill: number) => (n: number) => new Uint8Array(n).fill(fill);

function machine(p: Pairing, role: "initiator" | "acceptor"): Handshake {
  const o: HandshakeOptions = role === "initiator"
    ? { role, self: A, creation: 11, credentials: p.a, peer: B, random: fixedRandom(1) }
    : { role, self: B, creation: 22, credentials: p.b, random: fixedRandom(2) };
  return new Handshake(o);
}

interface Genuine {
  hello: unknown[];
  challenge: unknown[];
  proof: unknown[];
  ack: unknown[] | undefined;
}

function genuine(p: Pairing): Genuine {
  const i = machine(p, "initiator");
  const r = machine(p, "acceptor");
  const hello = i.start().send[0] as unknown[];
  r.start();
  const challenge = r.receive(hello).send[0] as unknown[];
  const proof = i.receive(challenge).send[0] as unknown[];
  const last = r.receive(proof);
  const ack = last.done ? last.send[0] as unknown[] : undefined;
  assert.equal(last.done !== undefined, p.completes, `${p.label}: the genuine exchange`);
  return { hello, challenge, proof, ack };
}

/** The machine under test, brought to `state` with genuine frames. */
function at(p: Pairing, g: Genuine, state: Waiting): { m: Handshake; expected: unknown[] } {
  if (state === "acceptor:hello") {
    const m = machine(p, "acceptor");
    m.start();
    return { m, expected: g.hello };
  }
  if (state === "acceptor:proof") {
    const m = machine(p, "acceptor");
    m.start();
    m.receive(g.hello);
    return { m, expected: g.proof };
  }
  const m = machine(p, "initiator");
  m.start();
  if (state === "initiator:challenge") return { m, expected: g.challenge };
  m.receive(g.challenge);
  return { m, expected: g.ack ?? ["ack", new Uint8Array(32)] };
}

const TAGS = ["hello", "challenge", "proof", "ack", "refuse", "HELLO", ""];

/** A genuine frame with one thing changed, or something else entirely. */
function variant(rng: Rng, frame: unknown[]): unknown {
  const f = [...frame];
  switch (rng.int(10)) {
    case 0:
      return frame; // the genuine frame itself
    case 1:
    case 2:
      f[rng.int(f.length)] = randomValue(rng);
      return f;
    case 3: {
      // Flip one bit of a nonce or MAC.
      const k = f.findIndex((x) => x instanceof Uint8Array);
      if (k < 0) return f;
      const b = (f[k] as Uint8Array).slice();
      b[rng.int(b.length)]! ^= 1 << rng.int(8);
      f[k] = b;
      return f;
    }
    case 4:
      if (rng.chance(0.5)) f.splice(rng.int(f.length), 1);
      else f.splice(rng.int(f.length + 1), 0, randomValue(rng));
      return f;
    case 5:
      f[0] = rng.pick(TAGS);
      return f;
    case 6: {
      // Bytes-level: what a peer could put on the wire, decoded as the connection would.
      const bytes = mutate(rng, codec.encode(frame).slice());
      try {
        return codec.decode(bytes);
      } catch {
        return randomValue(rng);
      }
    }
    case 7:
      return ["refuse", randomValue(rng), randomValue(rng)];
    default:
      return randomValue(rng);
  }
}

function checkStep(step: HandshakeStep, tally: Tally, what: string): boolean {
  if (step.error !== undefined && !(step.error instanceof ProtocolError)) {
    tally.crash(`${what}: error ${describe(step.error)}`);
  }
  return step.error === undefined;
}

Deno.test(`fuzz: ${INPUTS.toLocaleString("en")} frames at every handshake state give a step or a ProtocolError, and no altered frame completes it`, () => {
  const rng = new Rng(SEED);
  const tally = new Tally();
  const genuines = PAIRINGS.map(genuine);
  let completed = 0;
  for (let i = 0; i < INPUTS; i++) {
    tally.inputs++;
    const pi = rng.int(PAIRINGS.length);
    const p = PAIRINGS[pi]!;
    const state = rng.pick(WAITING);
    const { m, expected } = at(p, genuines[pi]!, state);
    const input = variant(rng, expected);
    const what = `input ${i} (${p.label}, ${state})`;
    let step: HandshakeStep;
    try {
      step = m.receive(input);
    } catch (e) {
      tally.crash(`${what}: receive() threw ${describe(e)}`);
      continue;
    }
    const ok = checkStep(step, tally, what);
    if (ok) tally.accepted++;
    else tally.refused++;
    if (step.done) {
      completed++;
      const same = bytesEqual(codec.encode(input).slice(), codec.encode(expected).slice());
      if (!same || !p.completes) tally.crash(`${what}: an altered frame completed the handshake`);
    }
    // Whatever follows a failure is refused; whatever follows a success is judged again.
    if (rng.chance(0.3)) {
      let next: HandshakeStep;
      try {
        next = m.receive(rng.chance(0.5) ? variant(rng, expected) : randomValue(rng));
      } catch (e) {
        tally.crash(`${what}, second frame: receive() threw ${describe(e)}`);
        continue;
      }
      checkStep(next, tally, `${what}, second frame`);
      if (!ok && next.error === undefined) tally.crash(`${what}: a failed handshake went on`);
      if (next.done && (step.done || !ok)) tally.crash(`${what}: completed twice or after failing`);
    }
  }
  console.log(`handshake fuzz: ${tally}; ${completed} completed with the genuine frame`);
  assert.deepEqual(tally.crashes, []);
  assert.equal(tally.crashCount, 0);
  assert.ok(completed > 100, "the genuine frames were among the inputs");
  assert.ok(tally.refused > INPUTS / 2);
});

Deno.test("fuzz: 1,500 hostile handshakes over TCP are each refused with a ProtocolError or TimeoutError, and the node keeps serving", async () => {
  const rng = new Rng(SEED + 1);
  const node = await Node.start({
    name: "fz-target",
    cookie: COOKIE,
    registryPort: 0,
    limits: { handshakeTimeoutMs: 250 },
  });
  const friend = await Node.start({
    name: "fz-friend",
    cookie: COOKIE,
    registryPort: node.registryPort,
  });
  node.serve("echo", (x) => x);
  const tally = new Tally();
  try {
    const g = genuine(PAIRINGS[0]!);
    g.hello[6] = node.name; // aimed at this node, so that proofs get checked too
    const hostile = async (i: number) => {
      tally.inputs++;
      const t = await tcpConnect(node.port);
      const raw = new RawEnd(t);
      const frames: Uint8Array[] = [];
      const frame = (v: unknown) => {
        try {
          return codec.encodeFrame(v).slice();
        } catch {
          return frameOf(rng.bytes(rng.int(40))); // what cannot be encoded goes as noise
        }
      };
      frames.push(frame(variant(rng, g.hello)));
      if (rng.chance(0.5)) frames.push(frame(variant(rng, g.proof)));
      if (rng.chance(0.1)) frames.push(mutate(rng, frames[0]!));
      for (const f of frames) t.write(f);
      try {
        await raw.whenClosed(3000);
        tally.refused++;
      } catch {
        tally.crash(`connection ${i} was not closed within 3 s`);
        t.close();
      }
    };
    // 1,500 connections, 150 at a time, with a real request between batches.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(Array.from({ length: 150 }, (_, k) => hostile(batch * 150 + k)));
      assert.equal(await friend.request(node.name, "echo", batch, { timeoutMs: 5000 }), batch);
    }
    assert.deepEqual(node.nodes(), [friend.name], "no hostile connection ever came up");

    // Real dialers with each pairing's credentials: a refusal is always typed.
    const dials = Array.from({ length: 40 }, async (_, i) => {
      const t = await tcpConnect(node.port);
      const r = await within(
        openConnection(t, {
          role: "initiator",
          self: `fz-dialer-${i}@localhost`,
          creation: 1,
          credentials: i % 2
            ? { kind: "cookie", cookie: WRONG }
            : { kind: "cookie", cookie: COOKIE },
          peer: node.name,
          handlers: new Recorder(),
          limits: { handshakeTimeoutMs: 3000 },
        }),
        5000,
        "handshake",
      );
      if (r.ok) r.value.close();
      else if (!(r.error instanceof ProtocolError || r.error instanceof TimeoutError)) {
        tally.crash(`dial ${i}: ${describe(r.error)}`);
      }
      return r.ok;
    });
    const oks = await Promise.all(dials);
    assert.equal(oks.filter(Boolean).length, 20, "the cookie holders got in, the others did not");
  } finally {
    await friend.close();
    await node.close();
  }
  console.log(`handshake over TCP: ${tally}`);
  assert.deepEqual(tally.crashes, []);
});
