// Two actor systems joined by an in-test router, as two nodes would be by a connection.
import assert from "node:assert/strict";
import type { ActorContext, DownMessage, ExitMessage, Inbox } from "../../../src/actor/mod.ts";
import { TimeoutError } from "../../../src/errors.ts";
import { Pid } from "../../../src/wire/pid.ts";
import { LoopbackNet, settle } from "./_helpers.ts";

const A = "a@localhost";
const B = "b@remote";

function twoNodes() {
  const net = new LoopbackNet();
  return { net, a: net.add(A), b: net.add(B) };
}

function downOf(inbox: Inbox, timeoutMs = 1000): Promise<DownMessage> {
  return inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN",
    timeoutMs,
  });
}

function exitOf(inbox: Inbox, timeoutMs = 1000): Promise<ExitMessage> {
  return inbox.receive<ExitMessage>({
    match: (m) => (m as ExitMessage)?.type === "EXIT",
    timeoutMs,
  });
}

/** An actor that exits with whatever it receives first. */
function exitOnMessage(ctx: ActorContext): Promise<void> {
  return ctx.receive().then((reason) => ctx.exit(reason));
}

Deno.test("messages cross to a pid on the other node, in order, and replies come back", async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  const echo = b.spawn(async (ctx: ActorContext) => {
    for (;;) {
      const m = await ctx.receive<{ from: Pid; n: number }>();
      ctx.send(m.from, m.n * 2);
    }
  }, []);
  for (let n = 0; n < 100; n++) ia.send(echo, { from: ia.self, n });
  for (let n = 0; n < 100; n++) assert.equal(await ia.receive({ timeoutMs: 1000 }), n * 2);
  b.shutdown();
});

Deno.test("a message to [name, node] reaches the registered process there; an unknown name is lost", async () => {
  const { a, b } = twoNodes();
  using ib = b.inbox();
  b.register("svc", ib.self);
  a.send(["svc", B], "hello");
  a.send(["ghost", B], "lost");
  assert.equal(await ib.receive({ timeoutMs: 1000 }), "hello");
  await settle();
  await assert.rejects(ib.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("a crash on one node kills a linked process on the other", async () => {
  const { a, b } = twoNodes();
  using watcher = a.inbox();
  const ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  ia.link(worker);
  watcher.monitor(ia.self);
  await settle(); // the link reaches b before the crash
  b.send(worker, { error: { name: "Error", message: "boom", stack: "" } });
  const down = await downOf(watcher);
  assert.ok((down.pid as Pid).equals(ia.self));
  assert.deepEqual(down.reason, { error: { name: "Error", message: "boom", stack: "" } });
});

Deno.test("a local crash kills a linked process on the other node", async () => {
  const { a, b } = twoNodes();
  using watcher = b.inbox();
  const worker = b.spawn((ctx: ActorContext) => ctx.receive(), []);
  const ref = watcher.monitor(worker);
  const ia = a.inbox();
  ia.link(worker);
  await settle();
  a.exit(undefined, ia.self, "local failure");
  const down = await downOf(watcher);
  assert.ok(down.ref.equals(ref));
  assert.equal(down.reason, "local failure");
});

Deno.test('a trapping process gets { type: "EXIT", pid, reason } for a remote linked exit', async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  ia.trapExits();
  const worker = b.spawn(exitOnMessage, []);
  ia.link(worker);
  await settle();
  b.send(worker, "normal");
  assert.deepEqual(await exitOf(ia), { type: "EXIT", pid: worker, reason: "normal" });
  const crasher = b.spawn(exitOnMessage, []);
  ia.link(crasher);
  await settle();
  b.send(crasher, "bad");
  assert.deepEqual(await exitOf(ia), { type: "EXIT", pid: crasher, reason: "bad" });
});

Deno.test("a normal remote exit does not kill a linked non-trapping process", async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  ia.link(worker);
  await settle();
  b.send(worker, "normal");
  await settle();
  await settle();
  assert.ok(a.isAlive(ia.self));
});

Deno.test('linking to a dead remote pid gives "noproc"', async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  ia.trapExits();
  const gone = b.inbox();
  gone.close();
  ia.link(gone.self);
  assert.deepEqual(await exitOf(ia), { type: "EXIT", pid: gone.self, reason: "noproc" });
  using watcher = a.inbox();
  const plain = a.inbox();
  watcher.monitor(plain.self);
  plain.link(new Pid(B, 4242, 1));
  assert.equal((await downOf(watcher)).reason, "noproc");
});

Deno.test("unlink across nodes stops the exit signal", async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  ia.link(worker);
  ia.unlink(worker);
  await settle();
  b.send(worker, "crash");
  await settle();
  await settle();
  assert.ok(a.isAlive(ia.self));
});

Deno.test('exit(pid, "kill") across nodes ends a trapping process with "killed"', async () => {
  const { a, b } = twoNodes();
  using watcher = a.inbox();
  const worker = b.spawn(async (ctx: ActorContext) => {
    ctx.trapExits();
    for (;;) await ctx.receive();
  }, []);
  watcher.monitor(worker);
  a.exit(watcher.self, worker, "kill");
  const down = await downOf(watcher);
  assert.equal(down.reason, "killed");
  assert.ok((down.pid as Pid).equals(worker));
});

Deno.test("exit(pid, reason) across nodes reaches a trapping process as an EXIT message", async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  using ib = b.inbox();
  ib.trapExits();
  a.exit(ia.self, ib.self, "please stop");
  assert.deepEqual(await exitOf(ib), { type: "EXIT", pid: ia.self, reason: "please stop" });
});

Deno.test('a remote monitor gets DOWN with the reason, and monitoring a dead remote pid gives "noproc"', async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  const ref = ia.monitor(worker);
  await settle();
  b.send(worker, "finished");
  assert.deepEqual(await downOf(ia), { type: "DOWN", ref, pid: worker, reason: "finished" });
  const ref2 = ia.monitor(worker);
  assert.deepEqual(await downOf(ia), { type: "DOWN", ref: ref2, pid: worker, reason: "noproc" });
});

Deno.test("monitoring [name, node] across nodes reports the name in DOWN", async () => {
  const { a, b } = twoNodes();
  using ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  b.register("svc", worker);
  const ref = ia.monitor(["svc", B]);
  await settle();
  b.send("svc", "bye");
  assert.deepEqual(await downOf(ia), { type: "DOWN", ref, pid: ["svc", B], reason: "bye" });
  const ref2 = ia.monitor(["svc", B]);
  assert.deepEqual(await downOf(ia), {
    type: "DOWN",
    ref: ref2,
    pid: ["svc", B],
    reason: "noproc",
  });
});

Deno.test("demonitor across nodes prevents DOWN and removes the watch on the other node", async () => {
  const { net, a, b } = twoNodes();
  using ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  const ref = ia.monitor(worker);
  await settle();
  ia.demonitor(ref);
  await settle();
  const before = net.traffic.length;
  b.send(worker, "bye");
  await settle();
  await assert.rejects(ia.receive({ timeoutMs: 0 }), TimeoutError);
  assert.deepEqual(net.traffic.slice(before), [], "b sent no DOWN");
});

Deno.test("a process that ends stops its remote monitors on the other node", async () => {
  const { net, a, b } = twoNodes();
  const ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  ia.monitor(worker);
  await settle();
  ia.close();
  await settle();
  const before = net.traffic.length;
  b.send(worker, "bye");
  await settle();
  assert.deepEqual(net.traffic.slice(before), []);
});

Deno.test('nodeDown gives DOWN "noconnection" to monitors and EXIT "noconnection" to trapping links', async () => {
  const { net, a, b } = twoNodes();
  using ia = a.inbox();
  ia.trapExits();
  const worker = b.spawn((ctx: ActorContext) => ctx.receive(), []);
  b.register("svc", worker);
  const r1 = ia.monitor(worker);
  const r2 = ia.monitor(["svc", B]);
  ia.link(worker);
  await settle();
  net.disconnect(A, B);
  assert.deepEqual(await ia.receive({ timeoutMs: 0 }), {
    type: "DOWN",
    ref: r1,
    pid: worker,
    reason: "noconnection",
  });
  assert.deepEqual(await ia.receive({ timeoutMs: 0 }), {
    type: "DOWN",
    ref: r2,
    pid: ["svc", B],
    reason: "noconnection",
  });
  assert.deepEqual(await ia.receive({ timeoutMs: 0 }), {
    type: "EXIT",
    pid: worker,
    reason: "noconnection",
  });
  // On b, the actor linked to a's inbox got the same signal and, not trapping, ended.
  assert.equal(b.isAlive(worker), false);
});

Deno.test('nodeDown kills linked non-trapping processes on both sides with "noconnection"', async () => {
  const { net, a, b } = twoNodes();
  using wa = a.inbox();
  using wb = b.inbox();
  const pa = a.inbox();
  const pb = b.inbox();
  pa.link(pb.self);
  wa.monitor(pa.self);
  wb.monitor(pb.self);
  await settle();
  net.disconnect(A, B);
  assert.equal((await downOf(wa, 0)).reason, "noconnection");
  assert.equal((await downOf(wb, 0)).reason, "noconnection");
});

Deno.test("after nodeDown, nothing more crosses and a later end of a watched process is silent", async () => {
  const { net, a, b } = twoNodes();
  using ia = a.inbox();
  const worker = b.spawn(exitOnMessage, []);
  ia.monitor(worker);
  await settle();
  net.disconnect(A, B);
  await downOf(ia, 0);
  const before = net.traffic.length;
  b.send(worker, "after");
  await settle();
  assert.deepEqual(net.traffic.slice(before), []);
  await assert.rejects(ia.receive({ timeoutMs: 0 }), TimeoutError);
});

Deno.test("a restarted node (new creation) drops messages and signals for its predecessor's pids", async () => {
  const net = new LoopbackNet();
  const a = net.add(A);
  const b1 = net.add(B, 1);
  const old = b1.inbox();
  b1.shutdown();
  const b2 = net.add(B, 2);
  using fresh = b2.inbox();
  assert.equal(fresh.self.id, 1);
  assert.equal(old.self.id, 1);
  using ia = a.inbox();
  ia.trapExits();
  ia.send(old.self, "for the old one");
  ia.link(old.self);
  const ref = ia.monitor(old.self);
  await settle();
  await assert.rejects(fresh.receive({ timeoutMs: 0 }), TimeoutError);
  assert.deepEqual(await exitOf(ia), { type: "EXIT", pid: old.self, reason: "noproc" });
  assert.deepEqual(await downOf(ia), { type: "DOWN", ref, pid: old.self, reason: "noproc" });
});
