// Fuzz of the control messages: decodeControl on 100,000 generated and mutated frames, then a
// live Node fed 100,000 garbage control frames by peers that completed a real handshake
// (cookie and ticket holders). A peer that breaks the protocol is disconnected with a
// ProtocolError; the node keeps serving the others; a pid of another incarnation reaches nobody.
import assert from "node:assert/strict";
import { type Connection, openConnection } from "../../src/dist/connection.ts";
import {
  type ControlMessage,
  decodeControl,
  destinationNode,
  encodeControl,
  OP,
  sourceNode,
} from "../../src/dist/control.ts";
import { type Credentials, ticketFor } from "../../src/dist/credentials.ts";
import { tcpConnect } from "../../src/dist/tcp.ts";
import { ProtocolError } from "../../src/errors.ts";
import { Node } from "../../src/node.ts";
import { Codec, Pid, Ref } from "../../src/wire/mod.ts";
import { Recorder } from "../support/transport_suite.ts";
import { describe, frameOf, mutate, randomValue, Rng, Tally } from "../support/fuzz.ts";
import { COOKIE } from "./_helpers.ts";

const INPUTS = 100_000;
const SEED = 0x5eed_0c0c;
const codec = new Codec();
const KINDS = ["echo", "nope", "run", "spawn", "code.store"];

/** What a frame's fields are drawn from. */
interface Pools {
  pids: Pid[];
  refs: Ref[];
  names: string[];
  /** Senders' pids: a ticket holder's own, so that its frames are not refused for that alone. */
  from?: Pid;
}

/**
 * A control frame: well-shaped with hostile fields, or broken. `bad` is the share of
 * fields of a random kind; most such fields break the frame.
 */
function controlFrame(rng: Rng, pools: Pools, bad = 0.2): unknown {
  const { pids, refs, names } = pools;
  const pid = () => rng.chance(bad) ? randomValue(rng) : rng.pick(pids);
  const from = () => pools.from && rng.chance(1 - bad) ? pools.from : pid();
  const ref = () => rng.chance(bad) ? randomValue(rng) : rng.pick(refs);
  const name = () => rng.chance(bad) ? randomValue(rng) : rng.pick(names);
  const any = () => randomValue(rng, 1, [...pids, ...refs, ...names]);
  const op = rng.chance(1 - bad / 4) ? 1 + rng.int(11) : rng.pick([0, 12, -1, "1", 1.5, null]);
  const target = () => rng.chance(0.7) ? pid() : [name(), name()];
  const source = () => rng.chance(0.7) ? from() : [name(), pools.from?.node ?? name()];
  let f: unknown[];
  switch (op) {
    case OP.SEND:
      f = [op, pid(), any()];
      break;
    case OP.SEND_NAMED:
      f = [op, name(), name(), any()];
      break;
    case OP.LINK:
    case OP.UNLINK:
      f = [op, from(), pid()];
      break;
    case OP.EXIT:
    case OP.EXIT2:
      f = [op, from(), pid(), rng.chance(0.5) ? rng.pick(["normal", "kill", "boom"]) : any()];
      break;
    case OP.MONITOR:
    case OP.DEMONITOR:
      f = [op, from(), target(), ref()];
      break;
    case OP.DOWN:
      f = [op, source(), pid(), ref(), any()];
      break;
    case OP.REQUEST:
      f = [op, from(), name(), ref(), rng.chance(bad) ? "" : rng.pick(KINDS), any()];
      break;
    case OP.REPLY:
      f = [op, name(), ref(), rng.chance(bad) ? any() : rng.chance(0.5), any()];
      break;
    default:
      f = [op, any(), any()];
  }
  // One field changed, added or removed, now and then.
  if (rng.chance(bad / 2)) f[rng.int(f.length)] = any();
  if (rng.chance(bad / 4)) f.push(any());
  if (rng.chance(bad / 4)) f.pop();
  return rng.chance(bad / 8) ? any() : f;
}

Deno.test(`fuzz: decodeControl answers ${INPUTS.toLocaleString("en")} generated and mutated frames with a message or a ProtocolError`, () => {
  const rng = new Rng(SEED);
  const tally = new Tally();
  const names = ["a@localhost", "b@localhost", "x", "", "é@ü"];
  const pids = [new Pid("a@localhost", 1, 5), new Pid("b@localhost", 2, 6), new Pid("", 0, 0)];
  const refs = [new Ref("a@localhost", 1, 5), new Ref("b@localhost", 0, 0)];
  for (let i = 0; i < INPUTS; i++) {
    tally.inputs++;
    // Through the bytes, as a node gets it: what cannot be encoded goes as noise.
    let bytes: Uint8Array;
    try {
      bytes = codec.encode(controlFrame(rng, { pids, refs, names })).slice();
    } catch {
      bytes = rng.bytes(1 + rng.int(30));
    }
    if (rng.chance(0.25)) bytes = mutate(rng, bytes);
    let input: unknown;
    try {
      input = codec.decode(bytes);
    } catch (e) {
      if (!(e instanceof ProtocolError)) tally.crash(`input ${i}: decode ${describe(e)}`);
      tally.refused++;
      continue;
    }
    let m: ControlMessage;
    try {
      m = decodeControl(input);
    } catch (e) {
      if (e instanceof ProtocolError) tally.refused++;
      else tally.crash(`input ${i}: decodeControl threw ${describe(e)}`);
      continue;
    }
    tally.accepted++;
    try {
      // What the node does next with an accepted message must not throw either.
      const dest = destinationNode(m);
      const src = sourceNode(m);
      if (typeof dest !== "string" || (src !== undefined && typeof src !== "string")) {
        tally.crash(`input ${i}: routing names are not strings`);
      }
      decodeControl(codec.decode(codec.encode(encodeControl(m))));
    } catch (e) {
      tally.crash(`input ${i}: an accepted message did not route or round-trip: ${describe(e)}`);
    }
  }
  console.log(`control fuzz: ${tally}`);
  assert.deepEqual(tally.crashes, []);
  assert.equal(tally.crashCount, 0);
  assert.ok(tally.accepted > INPUTS / 5 && tally.refused > INPUTS / 10, String(tally));
});

Deno.test(`fuzz: a node fed ${INPUTS.toLocaleString("en")} garbage control frames after real handshakes drops only the broken peers, with ProtocolError, and keeps serving`, async () => {
  const rng = new Rng(SEED + 1);
  const node = await Node.start({ name: "fz-ctl", cookie: COOKIE, registryPort: 0 });
  const friend = await Node.start({
    name: "fz-ctl-friend",
    cookie: COOKIE,
    registryPort: node.registryPort,
  });
  const tally = new Tally();
  const downs: { peer: string; reason: Error | undefined }[] = [];
  const offDown = node.onNodeDown((peer, reason) => downs.push({ peer, reason }));
  node.serve("echo", (x) => x, { allowTickets: true });
  // The canary's real pid is never sent; a pid with its id and another creation is.
  using canary = node.inbox();
  const victim = node.spawn(async (ctx) => {
    while (true) await ctx.receive();
  });
  node.register("victim", victim);
  await friend.connect(node.name);
  let connections = 0;
  let broken = 0;
  try {
    const stale = new Pid(node.name, canary.self.id, (node.creation + 1) >>> 0);
    while (tally.inputs < INPUTS) {
      const i = connections++;
      const ticket = i % 3 === 0;
      const self = `fz-peer-${i}@localhost`;
      const credentials: Credentials = ticket
        ? { kind: "ticket", name: self, ticket: ticketFor(COOKIE, self) }
        : { kind: "cookie", cookie: COOKIE };
      const rec = new Recorder();
      const conn: Connection = await openConnection(await tcpConnect(node.port), {
        role: "initiator",
        self,
        creation: 1,
        credentials,
        peer: node.name,
        handlers: rec,
      });
      const me = new Pid(self, 1, 1);
      const names = [node.name, friend.name, self, "victim", "nobody", "fz-nowhere@localhost"];
      const pids = [me, stale, victim, new Pid(friend.name, 1, 1), new Pid("other@x", 1, 1)];
      const refs = [new Ref(self, 1, 1), new Ref(node.name, 1, node.creation)];
      // Frames up to and including the first one the node must refuse are the inputs.
      let expectBreak = false;
      const frames: Uint8Array[] = [];
      for (let k = 0; k < 60 && !expectBreak && tally.inputs < INPUTS; k++) {
        tally.inputs++;
        let frame: Uint8Array;
        let value: unknown;
        if (rng.chance(0.01)) {
          const body = rng.bytes(1 + rng.int(30));
          frame = frameOf(body);
          try {
            value = codec.decode(body);
          } catch {
            expectBreak = true;
            frames.push(frame);
            break;
          }
        } else {
          value = controlFrame(rng, { pids, refs, names, ...(ticket ? { from: me } : {}) }, 0.002);
          try {
            frame = codec.encodeFrame(value).slice();
          } catch {
            tally.inputs--;
            continue;
          }
        }
        frames.push(frame);
        let m: ControlMessage | undefined;
        try {
          m = decodeControl(value);
        } catch {
          expectBreak = true;
        }
        // A ticket holder may not speak for another node.
        const src = m && sourceNode(m);
        if (ticket && src !== undefined && src !== self) expectBreak = true;
      }
      // A closing request: its answer proves every frame before it was handled.
      const syncRef = new Ref(self, 999_999, 1);
      if (!expectBreak) {
        frames.push(
          codec.encodeFrame(
            encodeControl({
              op: OP.REQUEST,
              from: me,
              node: node.name,
              ref: syncRef,
              kind: "echo",
              payload: "sync",
            }),
          ).slice(),
        );
      }
      for (const f of frames) conn.sendFrame(f);
      if (expectBreak) {
        broken++;
        try {
          // The node's reason is judged below, from its own down events.
          await rec.downed(5000);
          tally.refused++;
        } catch {
          tally.crash(`peer ${i}: sent a bad frame and was not disconnected`);
          conn.close();
        }
      } else {
        try {
          await rec.until(
            () =>
              rec.messages.some((m) =>
                Array.isArray(m) && m[0] === OP.REPLY && syncRef.equals(m[2]) && m[4] === "sync"
              ),
            5000,
            "the sync reply",
          );
          tally.accepted++;
        } catch {
          tally.crash(
            `peer ${i}: sent only well-formed frames and got no answer (down: ${
              rec.downs.map(describe).join(", ")
            })`,
          );
        }
        conn.close();
      }
      if (i % 100 === 0) {
        assert.equal(await friend.request(node.name, "echo", i, { timeoutMs: 5000 }), i);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
    for (const d of downs) {
      if (d.reason !== undefined && !(d.reason instanceof ProtocolError)) {
        tally.crash(`the node dropped ${d.peer} with ${describe(d.reason)}`);
      }
    }
    const protocolDrops = downs.filter((d) => d.reason instanceof ProtocolError).length;
    console.log(
      `control frames into a node: ${tally}; ${connections} handshakes, ${broken} broken peers, ${protocolDrops} dropped with ProtocolError`,
    );
    assert.deepEqual(tally.crashes, []);
    assert.equal(tally.crashCount, 0);
    assert.equal(protocolDrops, broken, "each broken peer, and only those, was dropped");
    // Still serving, and nothing reached the canary through its stale pid.
    assert.equal(await friend.request(node.name, "echo", "end", { timeoutMs: 5000 }), "end");
    assert.ok(node.nodes().includes(friend.name));
    assert.ok(node.actors.isAlive(canary.self));
    await assert.rejects(canary.receive({ timeoutMs: 0 }));
  } finally {
    offDown();
    await friend.close();
    await node.close();
  }
});
