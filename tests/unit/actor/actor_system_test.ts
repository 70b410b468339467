import assert from "node:assert/strict";
import type {
  ActorContext,
  DownMessage,
  ExitMessage,
  ExitReason,
  Inbox,
} from "../../../src/actor/mod.ts";
import { errorReason } from "../../../src/actor/mod.ts";
import { NameTakenError, NoProcError, TimeoutError } from "../../../src/errors.ts";
import { Pid } from "../../../src/wire/pid.ts";
import { Ref } from "../../../src/wire/ref.ts";
import { makeSystem, settle, withFakeTimers } from "./_helpers.ts";

const NODE = "a@localhost";
const REMOTE = "b@elsewhere";

function downOf(inbox: Inbox, ref: Ref, timeoutMs = 1000): Promise<DownMessage> {
  return inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN" && ref.equals((m as DownMessage).ref),
    timeoutMs,
  });
}

function exitOf(inbox: Inbox, timeoutMs = 1000): Promise<ExitMessage> {
  return inbox.receive<ExitMessage>({
    match: (m) => (m as ExitMessage)?.type === "EXIT",
    timeoutMs,
  });
}

/** Spawns an actor that waits for a message and then exits with it as its reason. */
function spawnExitOnMessage(sys: ReturnType<typeof makeSystem>["sys"]): Pid {
  return sys.spawn(async (ctx: ActorContext) => {
    const reason = await ctx.receive();
    ctx.exit(reason);
  }, []);
}

// ---- send and receive ------------------------------------------------------

Deno.test("an inbox receives what is sent to its pid, in order", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  for (let i = 0; i < 100; i++) sys.send(inbox.self, i);
  for (let i = 0; i < 100; i++) assert.equal(await inbox.receive(), i);
});

Deno.test("pids are of this node and creation, distinct, and stable as text", () => {
  const { sys } = makeSystem({ creation: 7 });
  using a = sys.inbox();
  using b = sys.inbox();
  assert.equal(a.self.node, NODE);
  assert.equal(a.self.creation, 7);
  assert.ok(!a.self.equals(b.self));
  assert.equal(String(a.self), String(new Pid(NODE, a.self.id, 7)));
});

Deno.test("selective receive on an inbox leaves non-matching messages in order", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  for (const m of [{ t: "a" }, { t: "b" }, { t: "c" }, { t: "b2" }]) sys.send(inbox.self, m);
  const got = await inbox.receive<{ t: string }>({
    match: (m) => (m as { t: string }).t.startsWith("b"),
  });
  assert.deepEqual(got, { t: "b" });
  assert.deepEqual(await inbox.receive(), { t: "a" });
  assert.deepEqual(await inbox.receive(), { t: "c" });
  assert.deepEqual(await inbox.receive(), { t: "b2" });
});

Deno.test("send() to a registered local name delivers, to a missing one throws NoProcError", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  sys.register("logger", inbox.self);
  sys.send("logger", "by name");
  sys.send(["logger", NODE], "by tuple");
  assert.equal(await inbox.receive(), "by name");
  assert.equal(await inbox.receive(), "by tuple");
  assert.throws(() => sys.send("nobody", 1), NoProcError);
  assert.throws(() => inbox.send("nobody", 1), NoProcError);
  // The tuple form for this node is like a remote send: never throws.
  sys.send(["nobody", NODE], 1);
});

Deno.test("send() to a pid or name on another node goes to the router and never throws", () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 5, 1);
  sys.send(remote, { hi: 1 });
  sys.send(["svc", REMOTE], "named");
  assert.deepEqual(router.calls, [
    ["send", remote, { hi: 1 }],
    ["sendNamed", "svc", REMOTE, "named"],
  ]);
});

Deno.test("send() to a pid of an earlier incarnation of this node is dropped", async () => {
  const { sys, router } = makeSystem({ creation: 2 });
  using inbox = sys.inbox();
  const stale = new Pid(NODE, inbox.self.id, 1);
  sys.send(stale, "old");
  sys.deliver(stale, "old via network");
  await assert.rejects(inbox.receive({ timeoutMs: 0 }), TimeoutError);
  assert.equal(router.calls.length, 0);
});

Deno.test("send() to a dead local pid is dropped silently", () => {
  const { sys } = makeSystem();
  const inbox = sys.inbox();
  inbox.close();
  sys.send(inbox.self, "into the void");
  sys.send(new Pid(NODE, 9999, 1), "never existed");
});

Deno.test("send() rejects something that is not a destination with TypeError", () => {
  const { sys } = makeSystem();
  assert.throws(() => sys.send(42 as unknown as Pid, 1), TypeError);
  assert.throws(() => sys.send(["only-one"] as unknown as [string, string], 1), TypeError);
});

Deno.test("a closed inbox rejects receive with NoProcError and its sends are ignored", async () => {
  const { sys, router } = makeSystem();
  const inbox = sys.inbox();
  const waiting = inbox.receive().catch((e) => e);
  inbox.close();
  assert.ok((await waiting) instanceof NoProcError);
  await assert.rejects(inbox.receive(), NoProcError);
  inbox.send(new Pid(REMOTE, 1, 1), "x");
  assert.equal(router.calls.length, 0);
  assert.equal(sys.isAlive(inbox.self), false);
});

Deno.test("a mailbox past maxMailbox drops further messages", async () => {
  const { sys } = makeSystem({ maxMailbox: 5 });
  using inbox = sys.inbox();
  for (let i = 0; i < 1000; i++) sys.send(inbox.self, i);
  const got = [];
  for (let i = 0; i < 5; i++) got.push(await inbox.receive({ timeoutMs: 0 }));
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  await assert.rejects(inbox.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("an inbox receive times out with TimeoutError", async () => {
  await withFakeTimers(async (clock) => {
    const { sys } = makeSystem();
    using inbox = sys.inbox();
    const p = inbox.receive({ timeoutMs: 5000 }).catch((e) => e);
    await clock.tickAsync(5000);
    assert.ok((await p) instanceof TimeoutError);
  });
});

// ---- spawn and exit reasons --------------------------------------------------

Deno.test("spawn() runs the body with its context and arguments from the next microtask", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  let ran = false;
  const pid = sys.spawn((ctx: ActorContext, to: Pid, n: number) => {
    ran = true;
    ctx.send(to, { self: ctx.self, node: ctx.node, n });
  }, [inbox.self, 3]);
  assert.equal(ran, false);
  assert.ok(sys.isAlive(pid));
  const msg = await inbox.receive<{ self: Pid; node: string; n: number }>();
  assert.ok(msg.self.equals(pid));
  assert.equal(msg.node, NODE);
  assert.equal(msg.n, 3);
});

Deno.test("an actor answers a ping with ctx.receive and ctx.send", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const echo = sys.spawn(async (ctx: ActorContext) => {
    for (;;) {
      const m = await ctx.receive<{ from: Pid; n: number }>();
      if (m.n < 0) return;
      ctx.send(m.from, { type: "pong", n: m.n });
    }
  }, []);
  for (let n = 0; n < 10; n++) {
    sys.send(echo, { from: inbox.self, n });
    assert.deepEqual(await inbox.receive({ timeoutMs: 1000 }), { type: "pong", n });
  }
  const ref = inbox.monitor(echo);
  sys.send(echo, { from: inbox.self, n: -1 });
  assert.equal((await downOf(inbox, ref)).reason, "normal");
});

Deno.test('a body that returns ends with reason "normal"', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = sys.spawn(async () => {
    await Promise.resolve();
    return 42;
  }, []);
  const ref = inbox.monitor(pid);
  const down = await downOf(inbox, ref);
  assert.deepEqual(down, { type: "DOWN", ref, pid, reason: "normal" });
  assert.equal(sys.isAlive(pid), false);
  assert.equal(sys.count, 1);
});

Deno.test("a body that throws ends with { error: { name, message, stack } } as a plain object", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = sys.spawn(() => {
    throw new RangeError("out of range");
  }, []);
  const ref = inbox.monitor(pid);
  const { reason } = await downOf(inbox, ref);
  const err = (reason as { error: { name: string; message: string; stack: string } }).error;
  assert.equal(err.name, "RangeError");
  assert.equal(err.message, "out of range");
  assert.match(err.stack, /out of range/);
  assert.equal(Object.getPrototypeOf(reason), Object.prototype);
  assert.equal(Object.getPrototypeOf(err), Object.prototype);
});

Deno.test("a body that rejects asynchronously, or throws a non-Error, still gets an error reason", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const a = sys.spawn(async () => {
    await new Promise((r) => setTimeout(r, 1));
    throw new TypeError("late");
  }, []);
  const b = sys.spawn(() => {
    throw "a string";
  }, []);
  const ra = inbox.monitor(a);
  const rb = inbox.monitor(b);
  assert.deepEqual(
    ((await downOf(inbox, ra)).reason as { error: { name: string } }).error.name,
    "TypeError",
  );
  assert.deepEqual((await downOf(inbox, rb)).reason, {
    error: { name: "Error", message: "a string", stack: "" },
  });
});

Deno.test("errorReason() turns thrown values into plain, sendable objects", () => {
  const e = new Error("m");
  assert.deepEqual(errorReason(e), { error: { name: "Error", message: "m", stack: e.stack } });
  assert.deepEqual(errorReason(7), { error: { name: "Error", message: "7", stack: "" } });
});

Deno.test("ctx.exit(reason) ends the actor at once with that reason", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  let after = false;
  const pid = sys.spawn((ctx: ActorContext) => {
    ctx.exit({ custom: "reason" });
    after = true;
  }, []);
  const ref = inbox.monitor(pid);
  assert.deepEqual((await downOf(inbox, ref)).reason, { custom: "reason" });
  assert.equal(after, false);
});

Deno.test('ctx.exit() inside async code unwinds the body; the default reason is "normal"', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  let after = false;
  const pid = sys.spawn(async (ctx: ActorContext) => {
    await ctx.receive();
    await Promise.resolve().then(() => ctx.exit());
    after = true;
  }, []);
  const ref = inbox.monitor(pid);
  sys.send(pid, "go");
  assert.equal((await downOf(inbox, ref)).reason, "normal");
  assert.equal(after, false);
});

Deno.test('ctx.exit(ctx.self, "normal") ends a non-trapping actor with "normal" and never returns', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  let after = false;
  const pid = sys.spawn(async (ctx: ActorContext) => {
    await ctx.receive();
    ctx.exit(ctx.self, "normal");
    after = true;
  }, []);
  const ref = inbox.monitor(pid);
  sys.send(pid, "go");
  assert.equal((await downOf(inbox, ref)).reason, "normal");
  assert.equal(after, false);
  assert.equal(sys.isAlive(pid), false);
});

Deno.test('ctx.exit(ctx.self, "normal") in a trapping actor is an EXIT message from itself', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = sys.spawn(async (ctx: ActorContext, to: Pid) => {
    ctx.trapExits();
    ctx.exit(ctx.self, "normal");
    ctx.send(to, await ctx.receive({ timeoutMs: 1000 }));
  }, [inbox.self]);
  assert.deepEqual(await inbox.receive({ timeoutMs: 1000 }), {
    type: "EXIT",
    pid,
    reason: "normal",
  });
});

Deno.test('sys.exit(self, self, "normal") ends an inbox with "normal"; from no process it does not', async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const a = sys.inbox();
  const b = sys.inbox();
  const ref = watcher.monitor(a.self);
  sys.exit(undefined, b.self, "normal");
  sys.exit(a.self, a.self, "normal");
  assert.equal((await downOf(watcher, ref)).reason, "normal");
  assert.ok(sys.isAlive(b.self));
  b.close();
});

Deno.test("ctx.exit(pid, reason) sends an exit signal from the actor and returns while it lives", async () => {
  const { sys } = makeSystem();
  using trapping = sys.inbox();
  trapping.trapExits();
  using plain = sys.inbox();
  const pid = sys.spawn((ctx: ActorContext) => {
    ctx.exit(trapping.self, "shutdown");
    ctx.exit(plain.self, "normal");
    ctx.send(trapping.self, "still here");
  }, []);
  assert.deepEqual(await exitOf(trapping), { type: "EXIT", pid, reason: "shutdown" });
  assert.equal(await trapping.receive({ timeoutMs: 1000 }), "still here");
  assert.ok(sys.isAlive(plain.self));
});

Deno.test('ctx.exit(ctx.self, "kill") ends even a trapping actor with "killed"', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  let after = false;
  const pid = sys.spawn((ctx: ActorContext) => {
    ctx.trapExits();
    ctx.exit(ctx.self, "kill");
    after = true;
  }, []);
  const ref = inbox.monitor(pid);
  assert.equal((await downOf(inbox, ref)).reason, "killed");
  assert.equal(after, false);
});

Deno.test("ctx.exit(to, reason) with something other than a pid throws TypeError", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = sys.spawn((ctx: ActorContext) => {
    (ctx.exit as (to: unknown, reason: unknown) => void)("nobody", "x");
  }, []);
  const ref = inbox.monitor(pid);
  const reason = (await downOf(inbox, ref)).reason as { error: { name: string } };
  assert.equal(reason.error.name, "TypeError");
});

Deno.test('ctx.exit("bye") from a timer the body does not await ends the actor, with no uncaught error', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  let after = false;
  const waiting = sys.spawn(async (ctx: ActorContext) => {
    setTimeout(() => {
      ctx.exit("bye");
      after = true;
    }, 5);
    await ctx.receive();
  }, []);
  const returned = sys.spawn((ctx: ActorContext) => {
    setTimeout(() => ctx.exit("bye too"), 5);
  }, []);
  const ref = inbox.monitor(waiting);
  assert.equal((await downOf(inbox, ref)).reason, "bye");
  assert.equal(after, false);
  assert.equal(sys.isAlive(returned), false);
  // The node keeps working afterwards.
  const echo = sys.spawn(
    async (ctx: ActorContext) => ctx.send(inbox.self, await ctx.receive()),
    [],
  );
  sys.send(echo, "alive");
  assert.equal(await inbox.receive({ timeoutMs: 1000 }), "alive");
  await new Promise((r) => setTimeout(r, 20));
});

Deno.test("ctx.exit() from a detached promise callback ends the actor, with no unhandled rejection", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = sys.spawn(async (ctx: ActorContext) => {
    void new Promise((r) => setTimeout(r, 5)).then(() => ctx.exit({ from: "promise" }));
    await ctx.receive();
  }, []);
  const ref = inbox.monitor(pid);
  assert.deepEqual((await downOf(inbox, ref)).reason, { from: "promise" });
  await settle();
});

Deno.test("ctx.spawn() starts another actor on the same node", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  sys.spawn((ctx: ActorContext, to: Pid) => {
    const child = ctx.spawn((c: ActorContext, t: Pid) => c.send(t, c.self), to);
    ctx.send(to, { child });
  }, [inbox.self]);
  const first = await inbox.receive<{ child: Pid } | Pid>();
  const second = await inbox.receive<{ child: Pid } | Pid>();
  const child = first instanceof Pid ? first : second as Pid;
  const announced = first instanceof Pid ? (second as { child: Pid }) : first;
  assert.ok(child.equals(announced.child));
  assert.equal(child.node, NODE);
});

Deno.test("count and isAlive follow processes as they start and end", async () => {
  const { sys } = makeSystem();
  assert.equal(sys.count, 0);
  const a = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  assert.equal(sys.count, 2);
  sys.send(pid, "normal");
  await settle();
  assert.equal(sys.isAlive(pid), false);
  assert.equal(sys.count, 1);
  a.close();
  assert.equal(sys.count, 0);
});

// ---- links -------------------------------------------------------------------

Deno.test("an abnormal exit kills a linked process that does not trap exits", async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const a = sys.inbox();
  const b = spawnExitOnMessage(sys);
  a.link(b);
  const ref = watcher.monitor(a.self);
  const pending = a.receive().catch((e) => e);
  sys.send(b, "crashed");
  assert.equal((await downOf(watcher, ref)).reason, "crashed");
  assert.ok((await pending) instanceof NoProcError);
  assert.equal(sys.isAlive(a.self), false);
});

Deno.test('a "normal" exit does not kill a linked process', async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  const b = spawnExitOnMessage(sys);
  a.link(b);
  sys.send(b, "normal");
  await settle();
  assert.equal(sys.isAlive(b), false);
  assert.equal(sys.isAlive(a.self), true);
  await assert.rejects(a.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("links work both ways: the inbox's own abnormal end kills the linked actor", async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const a = sys.inbox();
  const b = sys.spawn((ctx: ActorContext) => ctx.receive(), []);
  a.link(b);
  const ref = watcher.monitor(b);
  sys.exit(undefined, a.self, "shutdown");
  assert.equal((await downOf(watcher, ref)).reason, "shutdown");
});

Deno.test('closing an inbox (reason "normal") leaves linked processes running', async () => {
  const { sys } = makeSystem();
  const a = sys.inbox();
  const b = sys.spawn((ctx: ActorContext) => ctx.receive(), []);
  a.link(b);
  a.close();
  await settle();
  assert.ok(sys.isAlive(b));
  sys.exit(undefined, b, "kill");
});

Deno.test("trapExits turns exit signals from links into EXIT messages, normal ones too", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  a.trapExits(true);
  const b = spawnExitOnMessage(sys);
  const c = spawnExitOnMessage(sys);
  a.link(b);
  a.link(c);
  sys.send(b, "boom");
  assert.deepEqual(await exitOf(a), { type: "EXIT", pid: b, reason: "boom" });
  sys.send(c, "normal");
  assert.deepEqual(await exitOf(a), { type: "EXIT", pid: c, reason: "normal" });
  assert.ok(sys.isAlive(a.self));
});

Deno.test("trapExits(false) turns trapping off again", async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const a = sys.inbox();
  a.trapExits();
  a.trapExits(false);
  const b = spawnExitOnMessage(sys);
  a.link(b);
  const ref = watcher.monitor(a.self);
  sys.send(b, "boom");
  assert.equal((await downOf(watcher, ref)).reason, "boom");
});

Deno.test("an exit signal travels along a chain of links", async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const a = sys.inbox();
  const b = sys.inbox();
  const c = spawnExitOnMessage(sys);
  a.link(b.self);
  b.link(c);
  const ra = watcher.monitor(a.self);
  const rb = watcher.monitor(b.self);
  sys.send(c, "cascade");
  assert.equal((await downOf(watcher, rb)).reason, "cascade");
  assert.equal((await downOf(watcher, ra)).reason, "cascade");
});

Deno.test('linking to a dead pid kills a non-trapping process with "noproc"', async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const dead = sys.inbox();
  dead.close();
  const a = sys.inbox();
  const ref = watcher.monitor(a.self);
  a.link(dead.self);
  assert.equal((await downOf(watcher, ref)).reason, "noproc");
});

Deno.test('linking to a dead pid while trapping exits gives an EXIT with "noproc"', async () => {
  const { sys } = makeSystem({ creation: 3 });
  using a = sys.inbox();
  a.trapExits();
  const never = new Pid(NODE, 4242, 3);
  const stale = new Pid(NODE, a.self.id, 2);
  a.link(never);
  assert.deepEqual(await exitOf(a), { type: "EXIT", pid: never, reason: "noproc" });
  a.link(stale);
  assert.deepEqual(await exitOf(a), { type: "EXIT", pid: stale, reason: "noproc" });
});

Deno.test("unlink() stops an exit signal from propagating", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  const b = spawnExitOnMessage(sys);
  a.link(b);
  a.unlink(b);
  sys.send(b, "crash");
  await settle();
  assert.ok(sys.isAlive(a.self));
});

Deno.test("unlink() from the other side also removes the link", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  const b = sys.spawn(async (ctx: ActorContext, peer: Pid) => {
    await ctx.receive();
    ctx.unlink(peer);
    ctx.exit("crash");
  }, [a.self]);
  a.link(b);
  sys.send(b, "go");
  await settle();
  assert.equal(sys.isAlive(b), false);
  assert.ok(sys.isAlive(a.self));
});

Deno.test("linking to oneself or twice to the same pid is harmless", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  a.trapExits();
  a.link(a.self);
  const b = spawnExitOnMessage(sys);
  a.link(b);
  a.link(b);
  sys.send(b, "once");
  assert.equal((await exitOf(a)).reason, "once");
  await assert.rejects(a.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("spawn() with { link } ties the new actor to that process", async () => {
  const { sys } = makeSystem();
  using parent = sys.inbox();
  parent.trapExits();
  const child = sys.spawn(
    () => {
      throw new Error("child failed");
    },
    [],
    { link: parent.self },
  );
  const exit = await exitOf(parent);
  assert.ok(exit.pid.equals(child));
  assert.equal((exit.reason as { error: { message: string } }).error.message, "child failed");
});

Deno.test('spawn() linked to a dead pid never runs the body and ends with "noproc"', async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const dead = sys.inbox();
  dead.close();
  let ran = false;
  const pid = sys.spawn(
    () => {
      ran = true;
    },
    [],
    { link: dead.self },
  );
  const ref = watcher.monitor(pid);
  assert.equal((await downOf(watcher, ref)).reason, "noproc");
  await settle();
  assert.equal(ran, false);
});

// ---- exit(pid, reason) ---------------------------------------------------------

Deno.test('exit(pid, "kill") ends the process with "killed" even when it traps exits', async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const a = sys.inbox();
  a.trapExits();
  const ref = watcher.monitor(a.self);
  sys.exit(watcher.self, a.self, "kill");
  assert.deepEqual(await downOf(watcher, ref), {
    type: "DOWN",
    ref,
    pid: a.self,
    reason: "killed",
  });
});

Deno.test('a process killed with "kill" sends "killed" to its links, which trapping processes can catch', async () => {
  const { sys } = makeSystem();
  using trapper = sys.inbox();
  trapper.trapExits();
  using watcher = sys.inbox();
  const victim = sys.spawn((ctx: ActorContext) => ctx.receive(), []);
  const bystander = sys.inbox();
  trapper.link(victim);
  bystander.link(victim);
  const ref = watcher.monitor(bystander.self);
  sys.exit(undefined, victim, "kill");
  assert.deepEqual(await exitOf(trapper), { type: "EXIT", pid: victim, reason: "killed" });
  assert.equal((await downOf(watcher, ref)).reason, "killed");
});

Deno.test('exit(pid, "normal") is ignored unless the target traps exits', async () => {
  const { sys } = makeSystem();
  using sender = sys.inbox();
  using plain = sys.inbox();
  using trapping = sys.inbox();
  trapping.trapExits();
  sys.exit(sender.self, plain.self, "normal");
  sys.exit(sender.self, trapping.self, "normal");
  assert.ok(sys.isAlive(plain.self));
  assert.deepEqual(await exitOf(trapping), { type: "EXIT", pid: sender.self, reason: "normal" });
});

Deno.test("exit(pid, reason) ends a non-trapping process and is an EXIT message for a trapping one", async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const plain = sys.inbox();
  using trapping = sys.inbox();
  trapping.trapExits();
  const ref = watcher.monitor(plain.self);
  sys.exit(watcher.self, plain.self, { why: "told to" });
  sys.exit(watcher.self, trapping.self, { why: "told to" });
  assert.deepEqual((await downOf(watcher, ref)).reason, { why: "told to" });
  assert.deepEqual(await exitOf(trapping), {
    type: "EXIT",
    pid: watcher.self,
    reason: { why: "told to" },
  });
});

Deno.test("exit() on a dead or stale pid does nothing", () => {
  const { sys, router } = makeSystem();
  sys.exit(undefined, new Pid(NODE, 77, 1), "kill");
  sys.exit(undefined, new Pid(NODE, 77, 0), "kill");
  assert.equal(router.calls.length, 0);
});

// ---- monitors ----------------------------------------------------------------

Deno.test('monitor() delivers { type: "DOWN", ref, pid, reason } when the process ends', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  const ref = inbox.monitor(pid);
  assert.ok(ref instanceof Ref);
  sys.send(pid, "bye");
  const down = await inbox.receive();
  assert.deepEqual(down, { type: "DOWN", ref, pid, reason: "bye" });
});

Deno.test('monitoring a dead pid gives DOWN "noproc" at once', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const dead = new Pid(NODE, 999, 1);
  const ref = inbox.monitor(dead);
  assert.deepEqual(await inbox.receive({ timeoutMs: 0 }), {
    type: "DOWN",
    ref,
    pid: dead,
    reason: "noproc",
  });
});

Deno.test('monitoring by registered name reports the name in DOWN, and a missing name is "noproc"', async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  sys.register("worker", pid);
  const r1 = inbox.monitor("worker");
  const r2 = inbox.monitor(["worker", NODE]);
  sys.send("worker", "done");
  assert.deepEqual(await downOf(inbox, r1), {
    type: "DOWN",
    ref: r1,
    pid: ["worker", NODE],
    reason: "done",
  });
  assert.deepEqual((await downOf(inbox, r2)).pid, ["worker", NODE]);
  const r3 = inbox.monitor("worker");
  assert.deepEqual(await downOf(inbox, r3, 0), {
    type: "DOWN",
    ref: r3,
    pid: ["worker", NODE],
    reason: "noproc",
  });
});

Deno.test("a monitor by name follows the process it named, not the name", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  sys.register("svc", pid);
  const ref = inbox.monitor("svc");
  sys.unregister("svc");
  sys.send(pid, "later");
  assert.equal((await downOf(inbox, ref)).reason, "later");
});

Deno.test("demonitor() prevents the DOWN message", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  const ref = inbox.monitor(pid);
  inbox.demonitor(ref);
  sys.send(pid, "bye");
  await settle();
  assert.equal(sys.isAlive(pid), false);
  await assert.rejects(inbox.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("demonitor() drops a DOWN already queued for that ref, and only that one", async () => {
  const { sys } = makeSystem();
  using inbox = sys.inbox();
  const r1 = inbox.monitor(new Pid(NODE, 1234, 1));
  const r2 = inbox.monitor(new Pid(NODE, 1235, 1));
  sys.send(inbox.self, "other");
  inbox.demonitor(r1);
  const got = [];
  for (let i = 0; i < 2; i++) got.push(await inbox.receive({ timeoutMs: 0 }));
  assert.equal((got[0] as DownMessage).ref, r2);
  assert.equal(got[1], "other");
});

Deno.test("each monitor gets its own DOWN", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  using b = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  const ra1 = a.monitor(pid);
  const ra2 = a.monitor(pid);
  const rb = b.monitor(pid);
  sys.send(pid, "x");
  assert.equal((await downOf(a, ra1)).reason, "x");
  assert.equal((await downOf(a, ra2)).reason, "x");
  assert.equal((await downOf(b, rb)).reason, "x");
});

Deno.test("a monitor ends with the monitoring process: no DOWN goes anywhere later", async () => {
  const { sys, router } = makeSystem();
  const a = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  a.monitor(pid);
  a.close();
  sys.send(pid, "x");
  await settle();
  assert.equal(router.calls.length, 0);
});

Deno.test("monitoring does not link: the watcher survives an abnormal exit", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  const pid = spawnExitOnMessage(sys);
  const ref = a.monitor(pid);
  sys.send(pid, "crash");
  await downOf(a, ref);
  assert.ok(sys.isAlive(a.self));
});

// ---- names --------------------------------------------------------------------

Deno.test("register/whereis/unregister manage names; a taken name throws NameTakenError", () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  using b = sys.inbox();
  sys.register("svc", a.self);
  assert.ok(sys.whereis("svc")?.equals(a.self));
  assert.throws(() => sys.register("svc", b.self), NameTakenError);
  assert.throws(() => sys.register("svc", a.self), NameTakenError);
  sys.register("svc2", a.self);
  assert.deepEqual(sys.registered().sort(), ["svc", "svc2"]);
  assert.equal(sys.unregister("svc"), true);
  assert.equal(sys.unregister("svc"), false);
  assert.equal(sys.whereis("svc"), undefined);
  assert.throws(() => sys.send("svc", 1), NoProcError);
  sys.register("svc", b.self);
  assert.ok(sys.whereis("svc")?.equals(b.self));
});

Deno.test("names are freed when their process exits and can be taken again", async () => {
  const { sys } = makeSystem();
  const pid = spawnExitOnMessage(sys);
  sys.register("one", pid);
  sys.register("two", pid);
  sys.send("one", "crash");
  await settle();
  assert.equal(sys.whereis("one"), undefined);
  assert.equal(sys.whereis("two"), undefined);
  assert.deepEqual(sys.registered(), []);
  using again = sys.inbox();
  sys.register("one", again.self);
  assert.ok(sys.whereis("one")?.equals(again.self));
});

Deno.test("register() refuses a dead or remote pid with NoProcError and a bad name with TypeError", () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  assert.throws(() => sys.register("x", new Pid(NODE, 500, 1)), NoProcError);
  assert.throws(() => sys.register("x", new Pid(REMOTE, a.self.id, 1)), NoProcError);
  for (const bad of ["", "has space", "x".repeat(256), "slash/name"]) {
    assert.throws(() => sys.register(bad, a.self), TypeError, bad);
  }
  assert.deepEqual(sys.registered(), []);
});

// ---- the router: links and monitors across nodes ------------------------------

Deno.test("links and monitors to remote pids go through the router, and the end of the process tells it", async () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  const a = sys.inbox();
  a.link(remote);
  const r1 = a.monitor(remote);
  const r2 = a.monitor(["svc", REMOTE]);
  assert.deepEqual(router.calls, [
    ["link", a.self, remote],
    ["monitor", a.self, remote, r1],
    ["monitor", a.self, ["svc", REMOTE], r2],
  ]);
  router.calls.length = 0;
  sys.exit(undefined, a.self, "bye");
  assert.deepEqual(router.calls, [
    ["exit", a.self, remote, "bye", "link"],
    ["demonitor", a.self, remote, r1],
    ["demonitor", a.self, ["svc", REMOTE], r2],
  ]);
  await settle();
});

Deno.test("unlink and demonitor of remote targets go through the router", () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  using a = sys.inbox();
  a.link(remote);
  const ref = a.monitor(remote);
  a.unlink(remote);
  a.demonitor(ref);
  assert.deepEqual(router.calls.slice(2), [
    ["unlink", a.self, remote],
    ["demonitor", a.self, remote, ref],
  ]);
});

Deno.test('exit() to a remote pid goes to the router as an "exit" signal', () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  using a = sys.inbox();
  sys.exit(a.self, remote, "kill");
  sys.exit(undefined, remote, "stop");
  assert.deepEqual(router.calls[0], ["exit", a.self, remote, "kill", "exit"]);
  const [, from, to, reason, kind] = router.calls[1]!;
  assert.equal((from as Pid).node, NODE);
  assert.deepEqual([to, reason, kind], [remote, "stop", "exit"]);
});

Deno.test('a remote link to a dead local pid is answered with a "noproc" link exit', () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  const dead = new Pid(NODE, 50, 1);
  sys.remoteLink(remote, dead);
  assert.deepEqual(router.calls, [["exit", dead, remote, "noproc", "link"]]);
});

Deno.test("a remote link fires when the local process ends, unless unlinked", async () => {
  const { sys, router } = makeSystem();
  const r1 = new Pid(REMOTE, 3, 1);
  const r2 = new Pid(REMOTE, 4, 1);
  const pid = spawnExitOnMessage(sys);
  sys.remoteLink(r1, pid);
  sys.remoteLink(r2, pid);
  sys.remoteUnlink(r2, pid);
  sys.send(pid, "crash");
  await settle();
  assert.deepEqual(router.calls, [["exit", pid, r1, "crash", "link"]]);
});

Deno.test("a remote link's exit signal kills the local process, or arrives as EXIT when trapping", async () => {
  const { sys } = makeSystem();
  using watcher = sys.inbox();
  const remote = new Pid(REMOTE, 3, 1);
  const a = sys.inbox();
  using t = sys.inbox();
  t.trapExits();
  sys.remoteLink(remote, a.self);
  sys.remoteLink(remote, t.self);
  const ref = watcher.monitor(a.self);
  sys.exitSignal(remote, a.self, "remote crash", "link");
  sys.exitSignal(remote, t.self, "remote crash", "link");
  assert.equal((await downOf(watcher, ref)).reason, "remote crash");
  assert.deepEqual(await exitOf(t), { type: "EXIT", pid: remote, reason: "remote crash" });
});

Deno.test("a link exit signal from a process that is not linked is ignored", () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  sys.exitSignal(new Pid(REMOTE, 3, 1), a.self, "crash", "link");
  assert.ok(sys.isAlive(a.self));
});

Deno.test("a remote monitor gets DOWN through the router when the local process ends", async () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  const pid = spawnExitOnMessage(sys);
  sys.register("svc", pid);
  const ref1 = new Ref(REMOTE, 1, 1);
  const ref2 = new Ref(REMOTE, 2, 1);
  const ref3 = new Ref(REMOTE, 3, 1);
  sys.remoteMonitor(remote, pid, ref1);
  sys.remoteMonitor(remote, ["svc", NODE], ref2);
  sys.remoteMonitor(remote, pid, ref3);
  sys.remoteDemonitor(remote, pid, ref3);
  sys.send(pid, "stopped");
  await settle();
  assert.deepEqual(router.calls, [
    ["down", pid, remote, ref1, "stopped"],
    ["down", ["svc", NODE], remote, ref2, "stopped"],
  ]);
});

Deno.test('a remote monitor of a dead pid or missing name is answered with DOWN "noproc"', () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  const dead = new Pid(NODE, 50, 1);
  const ref = new Ref(REMOTE, 1, 1);
  sys.remoteMonitor(remote, dead, ref);
  sys.remoteMonitor(remote, ["ghost", NODE], ref);
  assert.deepEqual(router.calls, [
    ["down", dead, remote, ref, "noproc"],
    ["down", ["ghost", NODE], remote, ref, "noproc"],
  ]);
});

Deno.test("remoteDown() delivers DOWN only for a monitor still in place", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  const remote = new Pid(REMOTE, 3, 1);
  const ref = a.monitor(remote);
  const gone = a.monitor(remote);
  a.demonitor(gone);
  sys.remoteDown(remote, a.self, gone, "x");
  sys.remoteDown(remote, a.self, new Ref(NODE, 999, 1), "x");
  sys.remoteDown(remote, a.self, ref, "remote reason");
  sys.remoteDown(remote, a.self, ref, "twice");
  assert.deepEqual(await a.receive({ timeoutMs: 0 }), {
    type: "DOWN",
    ref,
    pid: remote,
    reason: "remote reason",
  });
  await assert.rejects(a.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("deliverNamed() delivers to a local name and drops unknown names", async () => {
  const { sys } = makeSystem();
  using a = sys.inbox();
  sys.register("svc", a.self);
  sys.deliverNamed("svc", 1);
  sys.deliverNamed("ghost", 2);
  assert.equal(await a.receive({ timeoutMs: 0 }), 1);
  await assert.rejects(a.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test('nodeDown() fires monitors and links across that node with "noconnection"', async () => {
  const { sys, router } = makeSystem();
  using watcher = sys.inbox();
  const remote = new Pid(REMOTE, 3, 1);
  const other = new Pid("c@other", 3, 1);
  using trapper = sys.inbox();
  trapper.trapExits();
  const victim = sys.inbox();
  const r1 = trapper.monitor(remote);
  const r2 = trapper.monitor(["svc", REMOTE]);
  const r3 = trapper.monitor(other);
  trapper.link(remote);
  victim.link(remote);
  const rv = watcher.monitor(victim.self);
  sys.nodeDown(REMOTE);
  const got = [];
  for (let i = 0; i < 3; i++) got.push(await trapper.receive({ timeoutMs: 0 }));
  assert.deepEqual(got, [
    { type: "DOWN", ref: r1, pid: remote, reason: "noconnection" },
    { type: "DOWN", ref: r2, pid: ["svc", REMOTE], reason: "noconnection" },
    { type: "EXIT", pid: remote, reason: "noconnection" },
  ]);
  assert.equal((await downOf(watcher, rv, 0)).reason, "noconnection");
  await assert.rejects(trapper.receive({ timeoutMs: 0 }), TimeoutError);
  // The monitor on the other node is still in place.
  sys.remoteDown(other, trapper.self, r3, "x");
  assert.equal((await trapper.receive<DownMessage>({ timeoutMs: 0 })).reason, "x");
  // A second nodeDown finds nothing left to fire.
  router.calls.length = 0;
  sys.nodeDown(REMOTE);
  await assert.rejects(trapper.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("nodeDown() forgets that node's monitors and links on local processes", async () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  const pid = spawnExitOnMessage(sys);
  sys.remoteMonitor(remote, pid, new Ref(REMOTE, 1, 1));
  sys.remoteLink(new Pid(REMOTE, 4, 1), pid);
  sys.nodeDown(REMOTE);
  // The remote link's "noconnection" killed the process, telling nobody on the lost node.
  await settle();
  assert.equal(sys.isAlive(pid), false);
  assert.deepEqual(router.calls, []);
});

Deno.test("nodeDown() gives a trapping actor an EXIT message for its remote link", async () => {
  const { sys, router } = makeSystem();
  using inbox = sys.inbox();
  const remote = new Pid(REMOTE, 3, 1);
  const pid = sys.spawn(async (ctx: ActorContext, to: Pid) => {
    ctx.trapExits();
    ctx.send(to, "ready");
    ctx.send(to, await ctx.receive());
  }, [inbox.self]);
  assert.equal(await inbox.receive(), "ready");
  sys.remoteLink(remote, pid);
  sys.nodeDown(REMOTE);
  assert.deepEqual(await inbox.receive({ timeoutMs: 1000 }), {
    type: "EXIT",
    pid: remote,
    reason: "noconnection",
  });
  await settle();
  assert.deepEqual(router.calls, []);
});

Deno.test("nodeDown() sends nothing to the lost node, even from processes its signals end", async () => {
  const { sys, router } = makeSystem();
  const r1 = new Pid(REMOTE, 3, 1);
  const r2 = new Pid(REMOTE, 4, 1);
  const a = sys.inbox();
  const b = sys.inbox();
  a.link(r1);
  b.link(a.self);
  b.monitor(r2);
  sys.remoteLink(r2, b.self);
  sys.remoteMonitor(r2, b.self, new Ref(REMOTE, 1, 1));
  router.calls.length = 0;
  sys.nodeDown(REMOTE);
  await settle();
  assert.equal(sys.isAlive(a.self), false);
  assert.equal(sys.isAlive(b.self), false);
  assert.deepEqual(router.calls, []);
});

// ---- shutdown -----------------------------------------------------------------

Deno.test('shutdown() ends every process with "killed" and tells remote links and monitors', async () => {
  const { sys, router } = makeSystem();
  const remote = new Pid(REMOTE, 3, 1);
  const a = sys.inbox();
  const ref = new Ref(REMOTE, 1, 1);
  const waiting = a.receive().catch((e) => e);
  const actor = sys.spawn((ctx: ActorContext) => ctx.receive(), []);
  sys.register("svc", actor);
  await settle();
  sys.remoteLink(remote, a.self);
  sys.remoteMonitor(remote, actor, ref);
  sys.shutdown();
  assert.equal(sys.count, 0);
  assert.deepEqual(sys.registered(), []);
  assert.ok((await waiting) instanceof NoProcError);
  assert.deepEqual(router.calls, [
    ["exit", a.self, remote, "killed", "link"],
    ["down", actor, remote, ref, "killed"],
  ]);
  await settle();
});

Deno.test("shutdown(reason) uses that reason, and a body spawned just before never runs", async () => {
  const { sys, router } = makeSystem();
  let ran = false;
  const pid = sys.spawn(() => {
    ran = true;
  }, []);
  sys.remoteMonitor(new Pid(REMOTE, 3, 1), pid, new Ref(REMOTE, 1, 1));
  sys.shutdown("node closing");
  await settle();
  assert.equal(ran, false);
  assert.equal(router.calls[0]?.[4], "node closing");
});

Deno.test("an actor blocked in receive when killed ends without an unhandled rejection", async () => {
  const { sys } = makeSystem();
  using w = sys.inbox();
  const pid = sys.spawn(async (ctx: ActorContext) => {
    await ctx.receive();
  }, []);
  const ref = w.monitor(pid);
  await settle();
  sys.exit(undefined, pid, "kill");
  assert.equal((await downOf(w, ref)).reason, "killed");
  await settle();
});

// The types accept every reason shape the design lists.
const _reasons: ExitReason[] = ["normal", "killed", "noproc", "noconnection", {
  error: { name: "E", message: "m", stack: "" },
}];
