import assert from "node:assert/strict";
import { cookieKey, type Credentials, ticketFor } from "../../../src/dist/credentials.ts";
import {
  AuthenticationError,
  ConnectError,
  InvalidNameError,
  NameTakenError,
  TimeoutError,
} from "../../../src/errors.ts";
import {
  lookup,
  names,
  queryProof,
  register,
  registrationProof,
  RegistryServer,
} from "../../../src/registry/mod.ts";
import { RawClient } from "./_raw_client.ts";

const cookie = crypto.getRandomValues(new Uint8Array(32));
const creds: Credentials = { kind: "cookie", cookie };

function listen(options: Partial<Parameters<typeof RegistryServer.listen>[0]> = {}) {
  return RegistryServer.listen({ port: 0, credentials: creds, ...options });
}

Deno.test("a registered name can be looked up and is listed by names()", async () => {
  await using server = await listen();
  const q = { port: server.port, credentials: creds };
  await using a = await register("a@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  await using _b = await register("b@localhost", 5002, {
    credentials: creds,
    registryPort: server.port,
  });
  assert.equal(a.registryPort, server.port);
  assert.equal(await lookup("a@localhost", q), 5001);
  assert.equal(await lookup("b@localhost", q), 5002);
  assert.equal(await lookup("nobody@localhost", q), undefined);
  assert.deepEqual(await names(q), [
    { name: "a@localhost", port: 5001 },
    { name: "b@localhost", port: 5002 },
  ]);
  assert.deepEqual(server.entries(), await names(q));
});

Deno.test("a second live registration of a name is refused with NameTakenError", async () => {
  await using server = await listen();
  const opts = { credentials: creds, registryPort: server.port };
  await using _first = await register("dup@localhost", 5001, opts);
  await assert.rejects(register("dup@localhost", 5002, opts), NameTakenError);
  assert.equal(await lookup("dup@localhost", { port: server.port, credentials: creds }), 5001);
});

Deno.test("a registration ends with its connection and the name is free again", async () => {
  await using server = await listen();
  const opts = { credentials: creds, registryPort: server.port };
  const lease = await register("gone@localhost", 5001, opts);
  await lease.close();
  await lease.ended;
  assert.equal(
    await lookup("gone@localhost", { port: server.port, credentials: creds }),
    undefined,
  );
  await using again = await register("gone@localhost", 5003, opts);
  assert.equal(await lookup("gone@localhost", { port: server.port, credentials: creds }), 5003);
  await again.close();
});

Deno.test("a ticket registers its own name and no other", async () => {
  await using server = await listen();
  const ticket: Credentials = {
    kind: "ticket",
    name: "agent@web01",
    ticket: ticketFor(cookie, "agent@web01"),
  };
  await using _own = await register("agent@web01", 6001, {
    credentials: ticket,
    registryPort: server.port,
  });
  assert.equal(await lookup("agent@web01", { port: server.port, credentials: creds }), 6001);
  // Refused locally: the ticket cannot derive another name's key.
  await assert.rejects(
    register("other@web01", 6002, { credentials: ticket, registryPort: server.port }),
    AuthenticationError,
  );
  // A ticket stolen for one name and offered as another's is refused by the registry.
  const forged: Credentials = {
    kind: "ticket",
    name: "other@web01",
    ticket: ticketFor(cookie, "agent@web01"),
  };
  await assert.rejects(
    register("other@web01", 6002, { credentials: forged, registryPort: server.port }),
    AuthenticationError,
  );
  assert.equal(await lookup("other@web01", { port: server.port, credentials: creds }), undefined);
});

Deno.test("a wrong cookie is refused with AuthenticationError", async () => {
  await using server = await listen({ failureDelayMs: 1 });
  const wrong: Credentials = { kind: "cookie", cookie: new TextEncoder().encode("wrong") };
  await assert.rejects(
    register("intruder@localhost", 5001, { credentials: wrong, registryPort: server.port }),
    AuthenticationError,
  );
  assert.deepEqual(await names({ port: server.port, credentials: creds }), []);
});

Deno.test("a registration without a proof is refused and not listed", async () => {
  await using server = await listen();
  const raw = await RawClient.connect(server.port);
  raw.send(["register", "sneaky@localhost", 5001]);
  const challenge = await raw.next();
  assert.ok(Array.isArray(challenge) && challenge[0] === "challenge");
  assert.equal(
    await lookup("sneaky@localhost", { port: server.port, credentials: creds }),
    undefined,
  );
  raw.send(["lookup", "sneaky@localhost"]);
  const reply = await raw.next();
  assert.ok(Array.isArray(reply));
  assert.equal(reply[0], "error");
  assert.equal(reply[1], "bad_request");
  await raw.closed;
  assert.deepEqual(await names({ port: server.port, credentials: creds }), []);
});

Deno.test("a proof made for another nonce, name or port is refused", async () => {
  await using server = await listen({ failureDelayMs: 1 });
  const key = ticketFor(cookie, "m@localhost");
  const raw = await RawClient.connect(server.port);
  raw.send(["register", "m@localhost", 5001]);
  const [, nonce] = await raw.next() as [string, Uint8Array];
  raw.send(["prove", registrationProof(key, { nonce, name: "m@localhost", port: 5002 })]);
  assert.deepEqual((await raw.next() as unknown[]).slice(0, 2), ["error", "auth_failed"]);
  await raw.closed;

  const raw2 = await RawClient.connect(server.port);
  raw2.send(["register", "m@localhost", 5001]);
  const [, nonce2] = await raw2.next() as [string, Uint8Array];
  raw2.send(["prove", registrationProof(key, { nonce: nonce2, name: "m@localhost", port: 5001 })]);
  assert.deepEqual(await raw2.next(), ["ok"]);
  assert.notDeepEqual(nonce2, nonce);
  assert.equal(await lookup("m@localhost", { port: server.port, credentials: creds }), 5001);
  await raw2.close();
});

Deno.test("repeated failed proofs are answered after a growing delay", async () => {
  await using server = await listen({ failureDelayMs: 40, maxFailureDelayMs: 10_000 });
  const wrong: Credentials = { kind: "cookie", cookie: new Uint8Array(8) };
  const opts = { credentials: wrong, registryPort: server.port };
  for (let i = 0; i < 3; i++) {
    await assert.rejects(register("x@localhost", 5001, opts), AuthenticationError);
  }
  // The fourth failure in a row waits at least 40 * 2^3 ms before its answer.
  const t0 = performance.now();
  await assert.rejects(register("x@localhost", 5001, opts), AuthenticationError);
  assert.ok(performance.now() - t0 >= 300);
  // A correct proof is never delayed by the count.
  await using _ok = await register("x@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
});

Deno.test("garbage frames make the registry drop that client and keep serving", async () => {
  await using server = await listen();
  await using _lease = await register("keep@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  const raw = await RawClient.connect(server.port);
  // A frame of 4 bytes that are not one well-formed CBOR item.
  raw.write(new Uint8Array([0, 0, 0, 4, 0xff, 0xff, 0x1f, 0x5f]));
  const reply = await raw.next();
  assert.ok(Array.isArray(reply));
  assert.deepEqual(reply.slice(0, 2), ["error", "bad_request"]);
  await raw.closed;

  const raw2 = await RawClient.connect(server.port);
  raw2.send({ not: "an array" });
  assert.deepEqual((await raw2.next() as unknown[]).slice(0, 2), ["error", "bad_request"]);
  await raw2.closed;

  const raw3 = await RawClient.connect(server.port);
  raw3.send(["lookup", "bad name!"]);
  assert.deepEqual((await raw3.next() as unknown[]).slice(0, 2), ["error", "bad_name"]);
  await raw3.closed;

  assert.equal(await lookup("keep@localhost", { port: server.port, credentials: creds }), 5001);
});

Deno.test("an oversize frame makes the registry drop that client before reading it", async () => {
  await using server = await listen({ limits: { maxRegistryFrameBytes: 1024 } });
  const raw = await RawClient.connect(server.port);
  raw.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
  const reply = await raw.next();
  assert.ok(Array.isArray(reply));
  assert.deepEqual(reply.slice(0, 2), ["error", "bad_request"]);
  await raw.closed;

  const raw2 = await RawClient.connect(server.port);
  raw2.send(["lookup", "a".repeat(2000) + "@localhost"]);
  assert.deepEqual((await raw2.next() as unknown[]).slice(0, 2), ["error", "bad_request"]);
  await raw2.closed;
  assert.deepEqual(await names({ port: server.port, credentials: creds }), []);
});

Deno.test("a silent client is dropped at the handshake limit", async () => {
  await using server = await listen({ limits: { handshakeTimeoutMs: 150 } });
  const raw = await RawClient.connect(server.port);
  const reply = await raw.next();
  assert.ok(Array.isArray(reply));
  assert.deepEqual(reply.slice(0, 2), ["error", "timeout"]);
  await raw.closed;

  // So is one that asks to register and never proves.
  const raw2 = await RawClient.connect(server.port);
  raw2.send(["register", "slow@localhost", 5001]);
  assert.equal((await raw2.next() as unknown[])[0], "challenge");
  assert.deepEqual((await raw2.next() as unknown[]).slice(0, 2), ["error", "timeout"]);
  await raw2.closed;
  assert.deepEqual(await names({ port: server.port, credentials: creds }), []);
});

Deno.test("anything sent after a registration ends it", async () => {
  await using server = await listen();
  const key = ticketFor(cookie, "chatty@localhost");
  const raw = await RawClient.connect(server.port);
  raw.send(["register", "chatty@localhost", 5001]);
  const [, nonce] = await raw.next() as [string, Uint8Array];
  raw.send(["prove", registrationProof(key, { nonce, name: "chatty@localhost", port: 5001 })]);
  assert.deepEqual(await raw.next(), ["ok"]);
  raw.write(new Uint8Array(4)); // ticks are allowed
  raw.send(["names"]);
  assert.deepEqual((await raw.next() as unknown[]).slice(0, 2), ["error", "bad_request"]);
  await raw.closed;
  assert.equal(
    await lookup("chatty@localhost", { port: server.port, credentials: creds }),
    undefined,
  );
});

Deno.test("bad names are refused with InvalidNameError before anything is sent", async () => {
  await using server = await listen();
  const opts = { credentials: creds, registryPort: server.port };
  for (const bad of ["", "app", "app@", "@host", "a b@host", "app@host@x", "é@host"]) {
    await assert.rejects(register(bad, 5001, opts), InvalidNameError, bad);
    await assert.rejects(
      lookup(bad, { port: server.port, credentials: creds }),
      InvalidNameError,
      bad,
    );
  }
  await assert.rejects(register("a".repeat(250) + "@localhost", 5001, opts), InvalidNameError);
  await assert.rejects(register("ok@localhost", 0, opts), RangeError);
  await assert.rejects(register("ok@localhost", 70000, opts), RangeError);
});

Deno.test("queries reject with ConnectError when no registry answers", async () => {
  const server = await listen();
  const port = server.port;
  await server.close();
  await assert.rejects(lookup("a@localhost", { port, credentials: creds }), ConnectError);
  await assert.rejects(names({ port, credentials: creds }), ConnectError);
  await assert.rejects(
    register("a@localhost", 5001, { credentials: creds, registryPort: port }),
    ConnectError,
  );
});

Deno.test("a query rejects with TimeoutError when the registry never answers", async () => {
  const { createServer } = await import("node:net");
  const sockets: import("node:net").Socket[] = [];
  const mute = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => mute.listen({ host: "127.0.0.1", port: 0 }, () => r()));
  const port = (mute.address() as { port: number }).port;
  try {
    await assert.rejects(
      lookup("a@localhost", { port, credentials: creds, limits: { handshakeTimeoutMs: 100 } }),
      TimeoutError,
    );
  } finally {
    const closed = sockets.map((s) => new Promise((r) => s.once("close", r)));
    sockets.forEach((s) => s.destroy());
    await Promise.all(closed);
    await new Promise((r) => mute.close(r));
  }
});

Deno.test("a registry cannot be hosted with a ticket", async () => {
  await assert.rejects(
    RegistryServer.listen({
      port: 0,
      credentials: { kind: "ticket", name: "a@h", ticket: ticketFor(cookie, "a@h") },
    }),
    AuthenticationError,
  );
});

Deno.test("closing the registry ends every registration", async () => {
  const server = await listen();
  const lease = await register("a@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  await server.close();
  await lease.ended;
  await lease.close();
  await assert.rejects(
    lookup("a@localhost", { port: server.port, credentials: creds }),
    ConnectError,
  );
});

Deno.test("of two registrations of one name proven at once, only the first proven wins", async () => {
  await using server = await listen();
  const key = ticketFor(cookie, "race@localhost");
  const one = await RawClient.connect(server.port);
  const two = await RawClient.connect(server.port);
  one.send(["register", "race@localhost", 5001]);
  two.send(["register", "race@localhost", 5002]);
  const [, n1] = await one.next() as [string, Uint8Array];
  const [, n2] = await two.next() as [string, Uint8Array];
  one.send(["prove", registrationProof(key, { nonce: n1, name: "race@localhost", port: 5001 })]);
  assert.deepEqual(await one.next(), ["ok"]);
  two.send(["prove", registrationProof(key, { nonce: n2, name: "race@localhost", port: 5002 })]);
  assert.deepEqual((await two.next() as unknown[]).slice(0, 2), ["error", "name_taken"]);
  await two.closed;
  assert.equal(await lookup("race@localhost", { port: server.port, credentials: creds }), 5001);
  await one.close();
});

const ticketCreds = (name: string): Credentials => ({
  kind: "ticket",
  name,
  ticket: ticketFor(cookie, name),
});

Deno.test("a lookup or a listing gets a challenge, never an answer, before its proof", async () => {
  await using server = await listen({ failureDelayMs: 1 });
  await using _lease = await register("hidden@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  for (const request of [["lookup", "hidden@localhost"], ["names"]]) {
    const raw = await RawClient.connect(server.port);
    raw.send(request);
    const challenge = await raw.next() as unknown[];
    assert.equal(challenge.length, 2);
    assert.equal(challenge[0], "challenge");
    assert.ok(challenge[1] instanceof Uint8Array && challenge[1].length === 32);
    // A guess is refused and the port never sent.
    raw.send(["prove", crypto.getRandomValues(new Uint8Array(32)), null]);
    const reply = await raw.next() as unknown[];
    assert.deepEqual(reply.slice(0, 2), ["error", "auth_failed"], String(request));
    assert.ok(!JSON.stringify(reply).includes("5001"));
    assert.equal(await raw.next(), undefined);
    await raw.closed;
  }
  // A registration's proof shape does not prove a query.
  const raw = await RawClient.connect(server.port);
  raw.send(["lookup", "hidden@localhost"]);
  await raw.next();
  raw.send(["prove", new Uint8Array(32)]);
  assert.deepEqual((await raw.next() as unknown[]).slice(0, 2), ["error", "bad_request"]);
  await raw.closed;
});

Deno.test("a wrong cookie can neither look up nor list names: AuthenticationError", async () => {
  await using server = await listen({ failureDelayMs: 1 });
  await using _lease = await register("a@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  const wrong: Credentials = { kind: "cookie", cookie: new TextEncoder().encode("wrong") };
  const q = { port: server.port, credentials: wrong };
  await assert.rejects(lookup("a@localhost", q), AuthenticationError, "wrong proof");
  await assert.rejects(names(q), AuthenticationError, "wrong proof");
  // A ticket made with another cookie is no better.
  const alien: Credentials = {
    kind: "ticket",
    name: "agent@web01",
    ticket: ticketFor(new TextEncoder().encode("wrong"), "agent@web01"),
  };
  await assert.rejects(
    lookup("a@localhost", { port: server.port, credentials: alien }),
    AuthenticationError,
  );
  assert.equal(await lookup("a@localhost", { port: server.port, credentials: creds }), 5001);
});

Deno.test("a ticket holder may look up any name but not list them", async () => {
  await using server = await listen({ failureDelayMs: 1 });
  await using _hub = await register("hub@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  const q = { port: server.port, credentials: ticketCreds("agent@web01") };
  assert.equal(await lookup("hub@localhost", q), 5001);
  assert.equal(await lookup("nobody@localhost", q), undefined);
  await assert.rejects(names(q), AuthenticationError, "listing names needs the cookie");
  // One name's ticket offered as another's proves nothing.
  const forged: Credentials = {
    kind: "ticket",
    name: "other@web01",
    ticket: ticketFor(cookie, "agent@web01"),
  };
  await assert.rejects(
    lookup("hub@localhost", { port: server.port, credentials: forged }),
    AuthenticationError,
    "wrong proof",
  );
});

Deno.test("a query proof made for another nonce, verb, name or holder is refused", async () => {
  await using server = await listen({ failureDelayMs: 1 });
  await using _lease = await register("q@localhost", 5001, {
    credentials: creds,
    registryPort: server.port,
  });
  const key = cookieKey(creds)!;
  const ticket = ticketFor(cookie, "agent@web01");
  const ask = async (
    request: unknown[],
    prove: (nonce: Uint8Array) => unknown[],
  ): Promise<{ nonce: Uint8Array; reply: unknown[] }> => {
    const raw = await RawClient.connect(server.port);
    raw.send(request);
    const [, nonce] = await raw.next() as [string, Uint8Array];
    raw.send(prove(nonce));
    const reply = await raw.next() as unknown[];
    await raw.closed;
    return { nonce, reply };
  };
  const lookupQ = (nonce: Uint8Array, name = "q@localhost") =>
    queryProof(key, { nonce, verb: "lookup", name, holder: null });
  // The right proof, for reference; then its replay on a fresh nonce.
  const first = await ask(["lookup", "q@localhost"], (n) => ["prove", lookupQ(n), null]);
  assert.deepEqual(first.reply, ["ok", 5001]);
  const replay = await ask(["lookup", "q@localhost"], () => ["prove", lookupQ(first.nonce), null]);
  assert.deepEqual(replay.reply.slice(0, 2), ["error", "auth_failed"]);
  const otherName = await ask(
    ["lookup", "q@localhost"],
    (n) => ["prove", lookupQ(n, "x@localhost"), null],
  );
  assert.deepEqual(otherName.reply.slice(0, 2), ["error", "auth_failed"]);
  const otherVerb = await ask(["names"], (n) => ["prove", lookupQ(n, ""), null]);
  assert.deepEqual(otherVerb.reply.slice(0, 2), ["error", "auth_failed"]);
  // The cookie's key with a holder named, and a ticket's key claimed as the cookie.
  const holderSwap = await ask(["lookup", "q@localhost"], (n) => [
    "prove",
    queryProof(key, { nonce: n, verb: "lookup", name: "q@localhost", holder: "agent@web01" }),
    "agent@web01",
  ]);
  assert.deepEqual(holderSwap.reply.slice(0, 2), ["error", "auth_failed"]);
  const ticketAsCookie = await ask(["lookup", "q@localhost"], (n) => [
    "prove",
    queryProof(ticket, { nonce: n, verb: "lookup", name: "q@localhost", holder: null }),
    null,
  ]);
  assert.deepEqual(ticketAsCookie.reply.slice(0, 2), ["error", "auth_failed"]);
  const badHolder = await ask(["lookup", "q@localhost"], (n) => [
    "prove",
    queryProof(ticket, { nonce: n, verb: "lookup", name: "q@localhost", holder: "not a name" }),
    "not a name",
  ]);
  assert.deepEqual(badHolder.reply.slice(0, 2), ["error", "auth_failed"]);
  // The ticket's own proof works.
  const own = await ask(["lookup", "q@localhost"], (n) => [
    "prove",
    queryProof(ticket, { nonce: n, verb: "lookup", name: "q@localhost", holder: "agent@web01" }),
    "agent@web01",
  ]);
  assert.deepEqual(own.reply, ["ok", 5001]);
});

Deno.test("failed query proofs count toward the same growing delay as failed registrations", async () => {
  await using server = await listen({ failureDelayMs: 40, maxFailureDelayMs: 10_000 });
  const wrong: Credentials = { kind: "cookie", cookie: new Uint8Array(8) };
  const q = { port: server.port, credentials: wrong };
  await assert.rejects(lookup("x@localhost", q), AuthenticationError);
  await assert.rejects(names(q), AuthenticationError);
  await assert.rejects(
    lookup("x@localhost", { port: server.port, credentials: ticketCreds("t@web") }).then(() =>
      register("x@localhost", 5001, { credentials: wrong, registryPort: server.port })
    ),
    AuthenticationError,
  );
  // The fourth failure in a row, whichever kind, waits at least 40 * 2^3 ms.
  const t0 = performance.now();
  await assert.rejects(lookup("x@localhost", q), AuthenticationError);
  assert.ok(performance.now() - t0 >= 300);
  // A correct proof is never delayed by the count.
  const t1 = performance.now();
  assert.equal(await lookup("x@localhost", { port: server.port, credentials: creds }), undefined);
  assert.ok(performance.now() - t1 < 300);
});

Deno.test("a query that never proves is dropped at the handshake limit", async () => {
  await using server = await listen({ limits: { handshakeTimeoutMs: 150 } });
  const raw = await RawClient.connect(server.port);
  raw.send(["names"]);
  assert.equal((await raw.next() as unknown[])[0], "challenge");
  assert.deepEqual((await raw.next() as unknown[]).slice(0, 2), ["error", "timeout"]);
  await raw.closed;
});
