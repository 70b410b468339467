import assert from "node:assert/strict";
import { Mailbox } from "../../../src/actor/mailbox.ts";
import { NoProcError, TimeoutError } from "../../../src/errors.ts";
import { state, withFakeTimers } from "./_helpers.ts";

function box(maxMessages = 1000): Mailbox {
  return new Mailbox({ maxMessages, owner: "test" });
}

const isEven = (m: unknown) => typeof m === "number" && m % 2 === 0;

Deno.test("receive() takes messages in arrival order", async () => {
  const mb = box();
  for (const m of ["a", "b", "c"]) mb.push(m);
  assert.equal(await mb.receive(), "a");
  assert.equal(await mb.receive(), "b");
  assert.equal(await mb.receive(), "c");
  assert.equal(mb.size, 0);
});

Deno.test("receive() with match takes the first matching message and leaves the rest in order", async () => {
  const mb = box();
  for (const m of [1, 3, 4, 5, 6, 7]) mb.push(m);
  assert.equal(await mb.receive({ match: isEven }), 4);
  assert.equal(await mb.receive({ match: isEven }), 6);
  assert.equal(mb.size, 4);
  const rest = [];
  while (mb.size > 0) rest.push(await mb.receive());
  assert.deepEqual(rest, [1, 3, 5, 7]);
});

Deno.test("a waiting receive() with match skips non-matching arrivals, which stay queued in order", async () => {
  const mb = box();
  const p = mb.receive({ match: (m) => m === "wanted" });
  mb.push("x");
  mb.push("y");
  assert.equal(await state(p), "pending");
  mb.push("wanted");
  assert.equal(await p, "wanted");
  assert.equal(await mb.receive(), "x");
  assert.equal(await mb.receive(), "y");
});

Deno.test("receive() resolves with the message itself, object identity kept", async () => {
  const mb = box();
  const msg = { type: "pong", n: 1 };
  mb.push(msg);
  assert.equal(await mb.receive(), msg);
});

Deno.test("receive({ timeoutMs: 0 }) polls: a queued match resolves, none rejects with TimeoutError", async () => {
  const mb = box();
  mb.push(1);
  assert.equal(await mb.receive({ timeoutMs: 0 }), 1);
  await assert.rejects(mb.receive({ timeoutMs: 0 }), TimeoutError);
  mb.push(3);
  await assert.rejects(mb.receive({ timeoutMs: 0, match: isEven }), TimeoutError);
  // The poll left no waiter behind: the next message is queued, not swallowed.
  mb.push(2);
  assert.equal(mb.size, 2);
  assert.equal(await mb.receive({ timeoutMs: 0, match: isEven }), 2);
});

Deno.test("receive({ timeoutMs }) rejects with TimeoutError when nothing matches in time", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const p = mb.receive({ timeoutMs: 100, match: isEven });
    const settled = p.catch((e) => e);
    mb.push(1);
    await clock.tickAsync(99);
    assert.equal(await state(p), "pending");
    await clock.tickAsync(1);
    const e = await settled;
    assert.ok(e instanceof TimeoutError, String(e));
    assert.equal(e.name, "TimeoutError");
    // A match arriving after the timeout is queued for the next receive.
    mb.push(2);
    assert.equal(mb.size, 2);
  });
});

Deno.test("receive({ timeoutMs }) resolves when a match arrives before the deadline and clears its timer", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const p = mb.receive({ timeoutMs: 100 });
    await clock.tickAsync(50);
    mb.push("m");
    assert.equal(await p, "m");
    assert.equal(clock.countTimers(), 0);
  });
});

Deno.test("receive() without timeoutMs waits forever", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const p = mb.receive();
    assert.equal(clock.countTimers(), 0);
    await clock.tickAsync(365 * 24 * 3600_000);
    assert.equal(await state(p), "pending");
    mb.push("late");
    assert.equal(await p, "late");
  });
});

Deno.test("receive({ timeoutMs: Infinity }) waits forever instead of firing at once", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const p = mb.receive({ timeoutMs: Infinity });
    await clock.tickAsync(10_000);
    assert.equal(await state(p), "pending");
    mb.push("x");
    assert.equal(await p, "x");
  });
});

Deno.test("receive() with a timeout beyond 2^31-1 ms does not fire early", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const timeoutMs = 2 ** 32;
    const p = mb.receive({ timeoutMs });
    const settled = p.catch((e) => e);
    await clock.tickAsync(2 ** 31 + 1000);
    assert.equal(await state(p), "pending");
    await clock.tickAsync(timeoutMs - (2 ** 31 + 1000));
    assert.ok((await settled) instanceof TimeoutError);
  });
});

Deno.test("receive() rejects a NaN timeoutMs with TypeError", async () => {
  await assert.rejects(box().receive({ timeoutMs: NaN }), TypeError);
});

Deno.test("concurrent receives are served in the order they started, each by its own match", async () => {
  const mb = box();
  const any1 = mb.receive();
  const even = mb.receive({ match: isEven });
  const any2 = mb.receive();
  const odd = mb.receive({ match: (m) => typeof m === "number" && m % 2 === 1 });
  mb.push(10); // first waiter (any1) takes it even though `even` also matches
  mb.push(11); // any1 is served; `even` does not match; any2 takes it
  mb.push(13); // odd
  mb.push(12); // even
  assert.equal(await any1, 10);
  assert.equal(await any2, 11);
  assert.equal(await odd, 13);
  assert.equal(await even, 12);
  assert.equal(mb.size, 0);
});

Deno.test("a timed-out receive no longer takes messages from the queue's waiters", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const first = mb.receive({ timeoutMs: 10 }).catch((e) => e);
    const second = mb.receive();
    await clock.tickAsync(10);
    assert.ok((await first) instanceof TimeoutError);
    mb.push("m");
    assert.equal(await second, "m");
  });
});

Deno.test("a match that throws rejects that receive with its error and the message stays queued", async () => {
  const mb = box();
  mb.push("a");
  mb.push("b");
  const boom = new Error("bad match");
  await assert.rejects(
    mb.receive({
      match: (m) => {
        if (m === "b") throw boom;
        return false;
      },
    }),
    (e) => e === boom,
  );
  assert.equal(mb.size, 2);
  assert.equal(await mb.receive(), "a");
  assert.equal(await mb.receive(), "b");
});

Deno.test("a waiting receive whose match throws is rejected and the message goes on to the next waiter", async () => {
  const mb = box();
  const boom = new RangeError("match failed");
  const bad = mb.receive({
    match: () => {
      throw boom;
    },
  });
  const good = mb.receive({ match: (m) => m === "x" });
  const badResult = bad.catch((e) => e);
  mb.push("x");
  assert.equal(await badResult, boom);
  assert.equal(await good, "x");
  // The failed waiter is gone: later messages queue.
  mb.push("y");
  assert.equal(mb.size, 1);
});

Deno.test("a throwing match rejects its receive, and with no other taker the message is queued", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    const p = mb.receive({
      timeoutMs: 100,
      match: () => {
        throw "not an Error";
      },
    }).catch((e) => e);
    mb.push("z");
    assert.equal(await p, "not an Error");
    assert.equal(clock.countTimers(), 0, "its timer was cleared");
    assert.equal(mb.size, 1);
    assert.equal(await mb.receive(), "z");
  });
});

Deno.test("messages past maxMessages are dropped and counted, the first ones kept", async () => {
  const mb = box(10);
  for (let i = 0; i < 100_000; i++) mb.push({ i, pad: "x".repeat(100) });
  assert.equal(mb.size, 10);
  assert.equal(mb.dropped, 99_990);
  for (let i = 0; i < 10; i++) assert.equal(((await mb.receive()) as { i: number }).i, i);
  // Room again: new messages are kept.
  mb.push("after");
  assert.equal(await mb.receive({ timeoutMs: 0 }), "after");
  assert.equal(mb.dropped, 99_990);
});

Deno.test("a message handed straight to a waiting receive does not count against maxMessages", async () => {
  const mb = box(1);
  mb.push("queued");
  const p = mb.receive({ match: (m) => m === "direct" });
  mb.push("direct");
  assert.equal(await p, "direct");
  assert.equal(mb.dropped, 0);
  mb.push("third");
  assert.equal(mb.dropped, 1);
});

Deno.test("long runs of push and receive keep order across the queue's compaction", async () => {
  const mb = box(100_000);
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 3000; i++) mb.push(next++);
    for (let i = 0; i < 2500; i++) assert.equal(await mb.receive(), expect++);
  }
  // Selective receive from the middle after compaction.
  const target = expect + 1000;
  assert.equal(await mb.receive({ match: (m) => m === target }), target);
  const rest: number[] = [];
  while (mb.size > 0) rest.push((await mb.receive()) as number);
  const want = [];
  for (let i = expect; i < next; i++) if (i !== target) want.push(i);
  assert.deepEqual(rest, want);
});

Deno.test("close() rejects waiting and later receives with NoProcError and drops new messages", async () => {
  await withFakeTimers(async (clock) => {
    const mb = box();
    mb.push("lost");
    const waiting = mb.receive({ match: () => false, timeoutMs: 1000 }).catch((e) => e);
    mb.close();
    assert.ok((await waiting) instanceof NoProcError);
    assert.equal(clock.countTimers(), 0);
    await assert.rejects(mb.receive({ timeoutMs: 0 }), NoProcError);
    mb.push("ignored");
    assert.equal(mb.size, 0);
  });
});

Deno.test("close(reason) rejects receives with that reason", async () => {
  const mb = box();
  const reason = new Error("gone");
  const p = mb.receive().catch((e) => e);
  mb.close(reason);
  assert.equal(await p, reason);
  await assert.rejects(mb.receive(), (e) => e === reason);
});

Deno.test("discard() removes the matching queued messages only", async () => {
  const mb = box();
  for (const m of [1, 2, 3, 4, 5]) mb.push(m);
  await mb.receive(); // 1 taken, so the queue's head has moved
  assert.equal(mb.discard(isEven), 2);
  assert.equal(mb.discard(isEven), 0);
  assert.equal(mb.size, 2);
  assert.equal(await mb.receive(), 3);
  assert.equal(await mb.receive(), 5);
});
