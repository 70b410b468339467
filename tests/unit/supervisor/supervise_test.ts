import assert from "node:assert/strict";
import type { ActorContext, DownMessage } from "../../../src/actor/types.ts";
import { ConnectError, NameTakenError, NoProcError, TargetError } from "../../../src/errors.ts";
import {
  type ChildSpec,
  supervise,
  type Supervisor,
  type SupervisorEvent,
} from "../../../src/supervisor/mod.ts";
import { Node } from "../../../src/node.ts";
import { noReport, reports, testNode, until, workerSpec } from "./_helpers.ts";

// ---- strategies --------------------------------------------------------------

Deno.test("one_for_one restarts only the child that crashed", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise(
    ["a", "b", "c"].map((id) => workerSpec(id, inbox.self)),
    { node, strategy: "one_for_one", intensity: 5 },
  );
  const first = await reports(inbox, "started", 3);
  assert.deepEqual(first.map((r) => r.id), ["a", "b", "c"]);
  node.send(first[1]!.pid, "crash");
  const [again] = await reports(inbox, "started", 1);
  assert.equal(again!.id, "b");
  assert.ok(!again!.pid.equals(first[1]!.pid));
  assert.ok(await noReport(inbox, "started"));
  const kids = sup.children();
  assert.deepEqual(kids.map((k) => [k.id, k.status, k.restarts]), [
    ["a", "running", 0],
    ["b", "running", 1],
    ["c", "running", 0],
  ]);
  assert.ok(kids[0]!.pid!.equals(first[0]!.pid) && kids[2]!.pid!.equals(first[2]!.pid));
  assert.equal(kids[1]!.node, node.name);
  await sup.terminate();
});

Deno.test("one_for_all shuts the others down in reverse order and restarts every child in order", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise(
    ["a", "b", "c"].map((id) => workerSpec(id, inbox.self, { trap: true })),
    { node, strategy: "one_for_all", intensity: 5 },
  );
  const first = await reports(inbox, "started", 3);
  node.send(first[1]!.pid, "crash");
  const stopped = await reports(inbox, "stopped", 2);
  assert.deepEqual(stopped.map((r) => [r.id, r.reason]), [["c", "shutdown"], ["a", "shutdown"]]);
  const again = await reports(inbox, "started", 3);
  assert.deepEqual(again.map((r) => r.id), ["a", "b", "c"]);
  for (let i = 0; i < 3; i++) assert.ok(!again[i]!.pid.equals(first[i]!.pid));
  assert.deepEqual(sup.children().map((k) => k.restarts), [1, 1, 1]);
  await sup.terminate();
});

Deno.test("rest_for_one restarts the crashed child and the ones started after it", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise(
    ["a", "b", "c", "d"].map((id) => workerSpec(id, inbox.self, { trap: true })),
    { node, strategy: "rest_for_one", intensity: 5 },
  );
  const first = await reports(inbox, "started", 4);
  node.send(first[1]!.pid, "crash");
  const stopped = await reports(inbox, "stopped", 2);
  assert.deepEqual(stopped.map((r) => r.id), ["d", "c"]);
  const again = await reports(inbox, "started", 3);
  assert.deepEqual(again.map((r) => r.id), ["b", "c", "d"]);
  assert.ok(sup.children()[0]!.pid!.equals(first[0]!.pid), "a kept running");
  assert.ok(await noReport(inbox, "stopped"));
  await sup.terminate();
});

Deno.test("under one_for_all a temporary sibling is shut down and forgotten, not restarted", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([
    workerSpec("a", inbox.self),
    workerSpec("t", inbox.self, { restart: "temporary" }),
  ], { node, strategy: "one_for_all", intensity: 5 });
  const first = await reports(inbox, "started", 2);
  node.send(first[0]!.pid, "crash");
  const [again] = await reports(inbox, "started", 1);
  assert.equal(again!.id, "a");
  assert.ok(await noReport(inbox, "started"));
  assert.deepEqual(sup.children().map((k) => k.id), ["a"]);
  await sup.terminate();
});

// ---- restart types -----------------------------------------------------------

Deno.test("a permanent child is restarted even after a normal exit", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("p", inbox.self)], { node, intensity: 5 });
  const [first] = await reports(inbox, "started", 1);
  node.send(first!.pid, "stop");
  const [again] = await reports(inbox, "started", 1);
  assert.equal(again!.id, "p");
  await sup.terminate();
});

Deno.test("a transient child is restarted after a crash but not after normal or shutdown exits", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const events: SupervisorEvent[] = [];
  const sup = await supervise(
    [
      workerSpec("t1", inbox.self, { restart: "transient" }),
      workerSpec("t2", inbox.self, { restart: "transient" }),
      workerSpec("t3", inbox.self, { restart: "transient" }),
    ],
    { node, intensity: 5, onEvent: (e) => events.push(e) },
  );
  const first = await reports(inbox, "started", 3);
  node.send(first[0]!.pid, "crash");
  const [again] = await reports(inbox, "started", 1);
  assert.equal(again!.id, "t1");
  node.send(first[1]!.pid, "stop");
  node.send(first[2]!.pid, { exit: { shutdown: "done" } });
  await until(() => sup.children().filter((k) => k.status === "stopped").length === 2);
  assert.ok(await noReport(inbox, "started"));
  assert.deepEqual(sup.children().map((k) => [k.id, k.status, k.pid === undefined]), [
    ["t1", "running", false],
    ["t2", "stopped", true],
    ["t3", "stopped", true],
  ]);
  const exits = events.filter((e) => e.type === "child_exited");
  assert.deepEqual(
    exits.map((e) => e.type === "child_exited" && `${e.id} ${e.restarting}`).sort(),
    ["t1 true", "t2 false", "t3 false"],
  );
  await sup.terminate();
});

Deno.test("a temporary child is never restarted and leaves children()", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise(
    [workerSpec("t", inbox.self, { restart: "temporary" }), workerSpec("p", inbox.self)],
    { node, intensity: 5 },
  );
  const [t] = await reports(inbox, "started", 2);
  node.send(t!.pid, "crash");
  await until(() => sup.children().length === 1);
  assert.equal(sup.children()[0]!.id, "p");
  assert.ok(await noReport(inbox, "started"));
  await sup.terminate();
});

// ---- intensity ---------------------------------------------------------------

Deno.test("more than intensity restarts within periodMs shut everything down with reason shutdown", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const events: SupervisorEvent[] = [];
  const sup = await supervise(
    [workerSpec("a", inbox.self), workerSpec("b", inbox.self, { trap: true })],
    { node, intensity: 2, periodMs: 60_000, onEvent: (e) => events.push(e) },
  );
  const ref = inbox.monitor(sup.pid);
  let [a] = await reports(inbox, "started", 2);
  for (let i = 0; i < 2; i++) {
    node.send(a!.pid, "crash");
    [a] = await reports(inbox, "started", 1);
  }
  node.send(a!.pid, "crash"); // the third restart within the period is one too many
  const exit = await sup.done;
  assert.deepEqual(exit, { reason: "shutdown", cause: "reached_max_restart_intensity" });
  const down = await inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN" && ref.equals((m as DownMessage).ref),
    timeoutMs: 1000,
  });
  assert.equal(down.reason, "shutdown");
  const [b] = await reports(inbox, "stopped", 1);
  assert.deepEqual([b!.id, b!.reason], ["b", "shutdown"]);
  assert.equal(sup.running, false);
  assert.ok(sup.children().every((k) => k.status === "stopped" && k.pid === undefined));
  assert.ok(events.some((e) => e.type === "gave_up" && e.id === "a"));
  await assert.rejects(sup.startChild(workerSpec("x", inbox.self)), NoProcError);
  await sup.terminate(); // already ended: resolves at once
});

Deno.test("intensity 0 gives up on the first restart", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self)], { node, intensity: 0 });
  const [a] = await reports(inbox, "started", 1);
  node.send(a!.pid, "crash");
  assert.equal((await sup.done).cause, "reached_max_restart_intensity");
});

Deno.test("restarts spread wider than periodMs never exhaust the intensity", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self)], { node, intensity: 1, periodMs: 50 });
  let [a] = await reports(inbox, "started", 1);
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 120));
    node.send(a!.pid, "crash");
    [a] = await reports(inbox, "started", 1);
  }
  assert.equal(sup.running, true);
  await sup.terminate();
});

// ---- shutdown ----------------------------------------------------------------

Deno.test("terminate() shuts children down in reverse order and kills one that ignores shutdown", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([
    workerSpec("a", inbox.self, { trap: true }),
    workerSpec("stubborn", inbox.self, { stubborn: true, shutdownMs: 100 }),
    workerSpec("c", inbox.self, { trap: true }),
  ], { node });
  const started = await reports(inbox, "started", 3);
  const refs = started.map((s) => inbox.monitor(s.pid));
  await sup.terminate();
  const stopped = await reports(inbox, "stopped", 3);
  assert.deepEqual(stopped.map((r) => r.id), ["c", "stubborn", "a"]);
  const reasons = [];
  for (const ref of refs) {
    const d = await inbox.receive<DownMessage>({
      match: (m) => (m as DownMessage)?.type === "DOWN" && ref.equals((m as DownMessage).ref),
      timeoutMs: 1000,
    });
    reasons.push(d.reason);
  }
  assert.deepEqual(reasons, ["shutdown", "killed", "shutdown"]);
  assert.deepEqual(await sup.done, { reason: "shutdown", cause: "terminated" });
  assert.equal(node.actors.isAlive(sup.pid), false);
});

Deno.test("shutdownMs 0 kills a child at once (brutal_kill)", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise(
    [workerSpec("a", inbox.self, { trap: true, shutdownMs: 0 })],
    { node },
  );
  const [a] = await reports(inbox, "started", 1);
  const ref = inbox.monitor(a!.pid);
  await sup.terminate();
  const d = await inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN" && ref.equals((m as DownMessage).ref),
    timeoutMs: 1000,
  });
  assert.equal(d.reason, "killed");
  assert.ok(await noReport(inbox, "stopped"));
});

Deno.test("an exit signal to the supervisor shuts its children down and ends it with that reason", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self, { trap: true })], { node });
  await reports(inbox, "started", 1);
  node.exit(sup.pid, "stop-now");
  const [s] = await reports(inbox, "stopped", 1);
  assert.equal(s!.reason, "shutdown");
  assert.deepEqual(await sup.done, { reason: "stop-now", cause: "exit_signal" });
});

Deno.test("killing the supervisor takes its children with it through their links", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self)], { node });
  const [a] = await reports(inbox, "started", 1);
  const ref = inbox.monitor(a!.pid);
  node.exit(sup.pid, "kill");
  const d = await inbox.receive<DownMessage>({
    match: (m) => (m as DownMessage)?.type === "DOWN" && ref.equals((m as DownMessage).ref),
    timeoutMs: 1000,
  });
  assert.equal(d.reason, "killed");
  assert.deepEqual(await sup.done, { reason: "killed", cause: "killed" });
});

// ---- children at run time ------------------------------------------------------

Deno.test("startChild, terminateChild, restartChild and deleteChild manage children at run time", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self)], { node });
  await reports(inbox, "started", 1);
  const pid = await sup.startChild(workerSpec("b", inbox.self, { trap: true }));
  const [b] = await reports(inbox, "started", 1);
  assert.ok(b!.pid.equals(pid));
  await assert.rejects(sup.startChild(workerSpec("b", inbox.self)), TypeError);
  await assert.rejects(sup.restartChild("b"), /running/);
  await assert.rejects(sup.deleteChild("b"), /running/);
  await sup.terminateChild("b");
  const [s] = await reports(inbox, "stopped", 1);
  assert.equal(s!.reason, "shutdown");
  assert.deepEqual(sup.children().map((k) => [k.id, k.status]), [["a", "running"], [
    "b",
    "stopped",
  ]]);
  const again = await sup.restartChild("b");
  assert.ok(again && !again.equals(pid));
  await sup.terminateChild("b");
  await sup.deleteChild("b");
  assert.deepEqual(sup.children().map((k) => k.id), ["a"]);
  await assert.rejects(sup.terminateChild("nope"), NoProcError);
  await sup.terminate();
});

Deno.test("a child on another local node is supervised across the connection", async () => {
  await using node = await testNode("sup");
  await using other = await Node2(node.registryPort);
  using inbox = node.inbox();
  const sup = await supervise(
    [{ ...workerSpec("far", inbox.self), node: other }],
    { node, intensity: 5 },
  );
  const [first] = await reports(inbox, "started", 1);
  assert.equal(first!.pid.node, other.name);
  other.send(first!.pid, "crash");
  const [again] = await reports(inbox, "started", 1);
  assert.equal(again!.pid.node, other.name);
  assert.equal(sup.children()[0]!.node, other.name);
  await sup.terminate();
  assert.equal(other.actors.isAlive(again!.pid), false);
});

async function Node2(registryPort: number): Promise<Node> {
  return await Node.start({
    name: `other-${crypto.randomUUID().slice(0, 8)}`,
    registryPort,
    cookie: "supervisor-test-cookie",
  });
}

// ---- starting ----------------------------------------------------------------

Deno.test("supervise registers the supervisor under its name, and refuses a taken name", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self)], { node, name: "top" });
  assert.ok(node.whereis("top")?.equals(sup.pid));
  await assert.rejects(supervise([], { node, name: "top" }), NameTakenError);
  await sup.terminate();
  assert.equal(node.whereis("top"), undefined);
});

Deno.test("supervise rejects bad specs and options before starting anything", async () => {
  await using node = await testNode();
  const count = node.actors.count;
  const fn = (_ctx: ActorContext) => {};
  const bad: [unknown, RegExp | typeof TargetError][] = [
    [[{ id: "", fn }], /id/],
    [[{ id: "a", fn, restart: "sometimes" }], /restart/],
    [[{ id: "a" }], /fn must be a function/],
    [[{ id: "a", fn }, { id: "a", fn }], /two children/],
    [[{ id: "r", module: "./x.ts", fn: "f", target: "bad host!" }], TargetError],
    [[{ id: "a", fn, shutdownMs: -1 }], /shutdownMs/],
  ];
  for (const [specs, err] of bad) {
    await assert.rejects(supervise(specs as ChildSpec[], { node }), err);
  }
  await assert.rejects(supervise([], { node, strategy: "simple" as never }), /strategy/);
  await assert.rejects(supervise([], { node, intensity: -1 }), /intensity/);
  assert.equal(node.actors.count, count);
});

Deno.test("supervise rejects when a child cannot start, after shutting down those started", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  // A port nothing listens on: the SSH connect is refused at once.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const events: SupervisorEvent[] = [];
  await assert.rejects(
    supervise([
      workerSpec("a", inbox.self, { trap: true }),
      { id: "r", module: "./nowhere.ts", fn: "f", target: `nobody@127.0.0.1:${port}` },
    ], { node, connection: { connectTimeoutMs: 3000 }, onEvent: (e) => events.push(e) }),
    ConnectError,
  );
  // The nodes are reached before any child starts: "a" never ran.
  assert.ok(await noReport(inbox, "started"));
  assert.ok(events.some((e) => e.type === "stopped" && e.exit.cause === "start_failed"));
});

Deno.test("startChild rejects when the child's node cannot be reached, and keeps no child", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  const sup = await supervise([workerSpec("a", inbox.self)], { node });
  await reports(inbox, "started", 1);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    sup.startChild({
      id: "r",
      module: "./nowhere.ts",
      fn: "f",
      target: `nobody@127.0.0.1:${port}`,
    }),
    ConnectError,
  );
  assert.deepEqual(sup.children().map((k) => k.id), ["a"]);
  assert.ok(sup.running);
  await sup.terminate();
});

Deno.test("a supervisor nests under another through a child that links to it", async () => {
  await using node = await testNode();
  using inbox = node.inbox();
  let inner: Supervisor | undefined;
  const outer = await supervise([{
    id: "inner",
    fn: async (ctx: ActorContext) => {
      inner = await supervise([workerSpec("leaf", inbox.self, { trap: true })], {
        node,
        intensity: 0,
      });
      ctx.link(inner.pid);
      for (;;) await ctx.receive();
    },
  }], { node, intensity: 5 });
  const [leaf] = await reports(inbox, "started", 1);
  await until(() => inner !== undefined);
  const first = inner!;
  // The inner supervisor gives up; its end takes the wrapper child, which the outer restarts.
  node.send(leaf!.pid, "crash");
  assert.equal((await first.done).cause, "reached_max_restart_intensity");
  await reports(inbox, "started", 1);
  await until(() => inner !== first && inner?.running === true);
  // Terminating the outer shuts the inner tree down through the link.
  await outer.terminate();
  const [stopped] = await reports(inbox, "stopped", 1);
  assert.equal(stopped!.reason, "shutdown");
  assert.deepEqual(await inner!.done, { reason: "shutdown", cause: "exit_signal" });
});
