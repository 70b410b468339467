/**
 * One suite of connection tests that any transport must pass: call
 * `transportSuite("tcp", tcpPair)` from a test file to run it on a new carrier
 * (an SSH-forwarded port, an exec channel's stdio, ...).
 * @module
 */
import assert from "node:assert/strict";
import {
  type Connection,
  type ConnectionHandlers,
  type ConnectionOptions,
  openConnection,
} from "../../src/dist/connection.ts";
import { type Credentials, ticketFor } from "../../src/dist/credentials.ts";
import { HandshakeRefusedError } from "../../src/dist/handshake.ts";
import { tcpConnect, tcpListen } from "../../src/dist/tcp.ts";
import {
  memoryTransportPair,
  type Transport,
  type TransportHandlers,
} from "../../src/dist/transport.ts";
import { AuthenticationError, ProtocolError, TimeoutError } from "../../src/errors.ts";
import type { Limits } from "../../src/limits.ts";
import { Codec } from "../../src/wire/codec.ts";
import { Pid } from "../../src/wire/pid.ts";
import { Ref } from "../../src/wire/ref.ts";
import { sleep, within } from "./_proc.ts";

/** Two transports joined to each other, and how to release what made them. */
export interface TransportPair {
  /** One end (the suite dials from here). */
  a: Transport;
  /** The other end (the suite accepts here). */
  b: Transport;
  /** Releases anything else the pair holds (listeners, tunnels); run after both ends closed. */
  cleanup?: () => Promise<void>;
}

/** Makes a fresh pair for one test. */
export type MakePair = () => Promise<TransportPair>;

/** Options for {@linkcode transportSuite}. */
export interface TransportSuiteOptions {
  /** Tick timeout used where ticks are tested (ms); default 200. */
  tickTimeoutMs?: number;
  /** Handshake timeout used where silence in the handshake is tested (ms); default 300. */
  handshakeTimeoutMs?: number;
  /** Messages sent each way in the ordering test; default 10,000. */
  messages?: number;
  /** Skips the suite (e.g. when a carrier is not available here). */
  ignore?: boolean;
  /** Passed to each Deno.test (e.g. false for carriers whose child processes outlive a test). */
  sanitizeResources?: boolean;
  /** Passed to each Deno.test. */
  sanitizeOps?: boolean;
}

const COOKIE = new TextEncoder().encode("transport-suite-cookie-0123456789");
const WRONG_COOKIE = new TextEncoder().encode("transport-suite-wrong-cookie-0123");
const A = "suite-a@localhost";
const B = "suite-b@localhost";

/** A cookie credential for the suite's nodes. */
export function suiteCredentials(cookie: Uint8Array = COOKIE): Credentials {
  return { kind: "cookie", cookie };
}

/** A memory pair: both ends in this process. */
export function memoryPair(): Promise<TransportPair> {
  const [a, b] = memoryTransportPair();
  return Promise.resolve({ a, b });
}

/** A TCP pair on 127.0.0.1: a kernel-chosen port, one dial, one accept. */
export async function tcpPair(): Promise<TransportPair> {
  let accepted!: (t: Transport) => void;
  const got = new Promise<Transport>((r) => (accepted = r));
  const listener = await tcpListen((t) => accepted(t));
  try {
    const a = await tcpConnect(listener.port);
    const b = await got;
    return { a, b, cleanup: () => listener.close() };
  } catch (e) {
    await listener.close();
    throw e;
  }
}

/** Records what a connection reports, and lets a test wait for it. */
export class Recorder implements ConnectionHandlers {
  readonly messages: unknown[] = [];
  readonly downs: (Error | undefined)[] = [];
  ups = 0;
  /** Set when `message` ran before `up`. */
  outOfOrder = false;
  #waiters = new Set<() => void>();

  up(_conn: Connection): void {
    this.ups++;
    this.#wake();
  }
  message(_conn: Connection, msg: unknown): void {
    if (this.ups === 0) this.outOfOrder = true;
    this.messages.push(msg);
    this.#wake();
  }
  down(_conn: Connection, reason: Error | undefined): void {
    this.downs.push(reason);
    this.#wake();
  }
  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves once `check` holds; rejects after `ms`. */
  until(check: () => boolean, ms: number, what = "condition"): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!check()) return;
        this.#waiters.delete(done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        reject(new Error(`${what} not reached within ${ms} ms`));
      }, ms);
      this.#waiters.add(done);
    });
  }

  /** Resolves with the first `down` reason. */
  async downed(ms: number): Promise<Error | undefined> {
    await this.until(() => this.downs.length > 0, ms, "down");
    return this.downs[0];
  }
}

/** A transport wrapper that, once muted, swallows writes and drops incoming bytes. */
export interface MutableTransport extends Transport {
  /** From now on, nothing goes out and nothing is handed in. */
  mute(): void;
}

/** Wraps `inner` so that it can go silent, like a hung peer. */
export function mutable(inner: Transport): MutableTransport {
  let muted = false;
  return {
    get label() {
      return `${inner.label} (mutable)`;
    },
    get buffered() {
      return inner.buffered;
    },
    start(h: TransportHandlers) {
      inner.start({
        data: (chunk) => {
          if (!muted) h.data(chunk);
        },
        close: (e) => h.close(e),
      });
    },
    write(chunk) {
      if (!muted) inner.write(chunk);
    },
    close: () => inner.close(),
    mute() {
      muted = true;
    },
  };
}

/** A raw end: bytes in, bytes out, no protocol. */
export class RawEnd {
  readonly received: Uint8Array[] = [];
  closed = false;
  #onClose: (() => void)[] = [];
  constructor(readonly transport: Transport) {
    transport.start({
      data: (c) => void this.received.push(c.slice()),
      close: () => {
        this.closed = true;
        for (const f of this.#onClose.splice(0)) f();
      },
    });
  }
  /** Writes one value as a frame. */
  send(value: unknown): void {
    this.transport.write(new Codec().encodeFrame(value));
  }
  /** Resolves when the transport has closed; rejects after `ms`. */
  whenClosed(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
      this.#onClose.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

interface Opened {
  a: Connection;
  b: Connection;
  ra: Recorder;
  rb: Recorder;
}

/** Options for one end of the suite's connection pair: a@localhost dials b@localhost. */
export function connectionOptions(
  role: "initiator" | "acceptor",
  handlers: Recorder,
  extra: Partial<ConnectionOptions> & { limits?: Partial<Limits> } = {},
): ConnectionOptions {
  return {
    role,
    self: role === "initiator" ? A : B,
    creation: role === "initiator" ? 1 : 2,
    credentials: suiteCredentials(),
    ...(role === "initiator" ? { peer: B } : {}),
    handlers,
    ...extra,
  };
}

/**
 * Registers the connection tests for one kind of transport. `makePair` is called
 * once per test; the suite closes both ends and then runs `cleanup`.
 */
export function transportSuite(
  name: string,
  makePair: MakePair,
  suiteOptions: TransportSuiteOptions = {},
): void {
  const tickTimeoutMs = suiteOptions.tickTimeoutMs ?? 200;
  const handshakeTimeoutMs = suiteOptions.handshakeTimeoutMs ?? 300;
  const count = suiteOptions.messages ?? 10_000;

  const test = (title: string, fn: (pair: TransportPair) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      ignore: suiteOptions.ignore ?? false,
      ...(suiteOptions.sanitizeResources !== undefined
        ? { sanitizeResources: suiteOptions.sanitizeResources }
        : {}),
      ...(suiteOptions.sanitizeOps !== undefined ? { sanitizeOps: suiteOptions.sanitizeOps } : {}),
      async fn() {
        const pair = await makePair();
        try {
          await fn(pair);
        } finally {
          pair.a.close();
          pair.b.close();
          await sleep(0);
          await pair.cleanup?.();
        }
      },
    });

  /** Opens both ends (the initiator on a, the acceptor on b) and waits for both. */
  async function open(
    pair: TransportPair,
    extraA: Partial<ConnectionOptions> = {},
    extraB: Partial<ConnectionOptions> = {},
  ): Promise<Opened> {
    const ra = new Recorder();
    const rb = new Recorder();
    const [a, b] = await Promise.all([
      openConnection(pair.a, connectionOptions("initiator", ra, extraA)),
      openConnection(pair.b, connectionOptions("acceptor", rb, extraB)),
    ]);
    return { a, b, ra, rb };
  }

  /** Closes both connections and waits until both have reported down. */
  async function closeBoth(o: Opened): Promise<void> {
    o.a.close();
    o.b.close();
    await o.ra.downed(5000);
    await o.rb.downed(5000);
  }

  test("the handshake completes and both sides learn each other", async (pair) => {
    const o = await open(pair);
    try {
      assert.equal(o.a.peer, B);
      assert.equal(o.b.peer, A);
      assert.equal(o.a.peerCreation, 2);
      assert.equal(o.b.peerCreation, 1);
      assert.equal(o.a.peerCredential, "cookie");
      assert.equal(o.a.version, 1);
      assert.equal(o.ra.ups, 1);
      assert.equal(o.rb.ups, 1);
      assert.ok(o.a.alive && o.b.alive);
    } finally {
      await closeBoth(o);
    }
  });

  test("a ticket holder and a cookie holder connect", async (pair) => {
    const ticket: Credentials = { kind: "ticket", name: A, ticket: ticketFor(COOKIE, A) };
    const o = await open(pair, { credentials: ticket });
    try {
      assert.equal(o.b.peerCredential, "ticket");
      assert.equal(o.a.peerCredential, "cookie");
    } finally {
      await closeBoth(o);
    }
  });

  test(`${count} messages each way arrive intact and in order`, async (pair) => {
    const o = await open(pair);
    try {
      const pid = new Pid(A, 7, 1);
      const ref = new Ref(B, 9, 2);
      for (let i = 0; i < count; i++) {
        o.a.send([i, "from a", pid]);
        o.b.send({ i, bytes: new Uint8Array([i & 255, 1, 2]), ref });
        if (i % 1000 === 999) await sleep(0); // interleave with reading, as real senders do
      }
      await o.rb.until(() => o.rb.messages.length >= count, 20_000, "messages at b");
      await o.ra.until(() => o.ra.messages.length >= count, 20_000, "messages at a");
      assert.equal(o.rb.messages.length, count);
      assert.equal(o.ra.messages.length, count);
      for (let i = 0; i < count; i++) {
        const m = o.rb.messages[i] as [number, string, Pid];
        assert.equal(m[0], i);
        assert.equal(m[1], "from a");
        assert.ok(m[2] instanceof Pid && m[2].equals(pid));
        const n = o.ra.messages[i] as { i: number; bytes: Uint8Array; ref: Ref };
        assert.equal(n.i, i);
        assert.deepEqual([...n.bytes], [i & 255, 1, 2]);
        assert.ok(n.ref instanceof Ref && n.ref.equals(ref));
      }
      assert.equal(o.ra.outOfOrder || o.rb.outOfOrder, false, "no message before up");
      assert.deepEqual(o.ra.downs, []);
      assert.deepEqual(o.rb.downs, []);
    } finally {
      await closeBoth(o);
    }
  });

  test("a wrong cookie is refused within 1 s", async (pair) => {
    const ra = new Recorder();
    const rb = new Recorder();
    const limits = { handshakeTimeoutMs: 30_000 };
    const [a, b] = await Promise.all([
      within(
        openConnection(
          pair.a,
          connectionOptions("initiator", ra, {
            credentials: suiteCredentials(WRONG_COOKIE),
            limits,
          }),
        ),
        1000,
        "refusal at the initiator",
      ),
      within(
        openConnection(pair.b, connectionOptions("acceptor", rb, { limits })),
        1000,
        "refusal",
      ),
    ]);
    assert.equal(a.ok, false);
    assert.equal(b.ok, false);
    const ea = (a as { error: unknown }).error;
    const eb = (b as { error: unknown }).error;
    assert.ok(ea instanceof HandshakeRefusedError, String(ea));
    assert.equal(ea.reason, "auth");
    assert.ok(eb instanceof AuthenticationError, String(eb));
    assert.equal(ra.ups + rb.ups, 0);
    assert.deepEqual([ra.downs, rb.downs], [[], []], "down is only for connections that were up");
  });

  test("a peer silent during the handshake is dropped at handshakeTimeoutMs", async (pair) => {
    const silent = new RawEnd(pair.a);
    const rb = new Recorder();
    const t0 = performance.now();
    const r = await within(
      openConnection(pair.b, connectionOptions("acceptor", rb, { limits: { handshakeTimeoutMs } })),
      handshakeTimeoutMs + 5000,
      "the handshake timeout",
    );
    assert.equal(r.ok, false);
    assert.ok((r as { error: unknown }).error instanceof TimeoutError);
    assert.ok(performance.now() - t0 >= handshakeTimeoutMs * 0.9, "not before the timeout");
    await silent.whenClosed(5000);
  });

  test("an initiator whose hello gets no answer gives up at handshakeTimeoutMs", async (pair) => {
    const silent = new RawEnd(pair.b);
    const ra = new Recorder();
    const r = await within(
      openConnection(
        pair.a,
        connectionOptions("initiator", ra, { limits: { handshakeTimeoutMs } }),
      ),
      handshakeTimeoutMs + 5000,
      "the handshake timeout",
    );
    assert.ok(!r.ok && r.error instanceof TimeoutError);
    await silent.whenClosed(5000);
    assert.ok(silent.received.length > 0, "the hello was sent");
  });

  test("a control frame before the handshake is refused and never reaches message()", async (pair) => {
    const raw = new RawEnd(pair.a);
    const rb = new Recorder();
    const opening = openConnection(pair.b, connectionOptions("acceptor", rb));
    raw.send([1, new Pid(B, 1, 2), "smuggled"]);
    raw.send(["hello", [1], A, new Uint8Array(32), "cookie", 1, B]);
    const r = await within(opening, 2000, "refusal");
    assert.ok(!r.ok && r.error instanceof ProtocolError, String(!r.ok && r.error));
    await raw.whenClosed(5000);
    assert.deepEqual(rb.messages, []);
    assert.equal(rb.ups, 0);
  });

  test("a control frame in place of the proof is refused and never reaches message()", async (pair) => {
    const raw = new RawEnd(pair.a);
    const rb = new Recorder();
    const opening = openConnection(pair.b, connectionOptions("acceptor", rb));
    raw.send(["hello", [1], A, new Uint8Array(32), "cookie", 1, B]);
    raw.send([1, new Pid(B, 1, 2), "smuggled"]);
    const r = await within(opening, 2000, "refusal");
    assert.ok(!r.ok && r.error instanceof ProtocolError);
    await raw.whenClosed(5000);
    assert.deepEqual(rb.messages, []);
  });

  test("a tick or a garbage frame before the handshake is a ProtocolError", async (pair) => {
    const raw = new RawEnd(pair.a);
    const rb = new Recorder();
    const opening = openConnection(pair.b, connectionOptions("acceptor", rb));
    raw.transport.write(new Uint8Array([0, 0, 0, 3, 0xff, 0xff, 0xff]));
    const r = await within(opening, 2000, "refusal");
    assert.ok(!r.ok && r.error instanceof ProtocolError, String(!r.ok && r.error));
    await raw.whenClosed(5000);
  });

  test("a huge frame length before the handshake is refused at once", async (pair) => {
    const raw = new RawEnd(pair.a);
    const rb = new Recorder();
    const opening = openConnection(pair.b, connectionOptions("acceptor", rb));
    raw.transport.write(new Uint8Array([0x00, 0x10, 0x00, 0x00, 0xa0])); // 1 MiB announced
    const r = await within(opening, 2000, "refusal");
    assert.ok(!r.ok && r.error instanceof ProtocolError, String(!r.ok && r.error));
    await raw.whenClosed(5000);
  });

  test("ticks keep an idle connection alive", async (pair) => {
    const limits = { tickTimeoutMs };
    const o = await open(pair, { limits }, { limits });
    try {
      await sleep(tickTimeoutMs * 4);
      assert.ok(o.a.alive && o.b.alive);
      assert.deepEqual([o.ra.downs, o.rb.downs], [[], []]);
      o.a.send("still here");
      await o.rb.until(() => o.rb.messages.length === 1, 5000, "message after idling");
      assert.deepEqual(o.rb.messages, ["still here"]);
      assert.deepEqual(o.ra.messages, [], "ticks are not messages");
    } finally {
      await closeBoth(o);
    }
  });

  test("a silent peer is declared down after tickTimeoutMs", async (pair) => {
    const limits = { tickTimeoutMs };
    const hung = mutable(pair.b);
    const ra = new Recorder();
    const rb = new Recorder();
    const [a, b] = await Promise.all([
      openConnection(pair.a, connectionOptions("initiator", ra, { limits })),
      openConnection(
        hung,
        connectionOptions("acceptor", rb, { limits: { tickTimeoutMs: 60_000 } }),
      ),
    ]);
    try {
      hung.mute();
      const t0 = performance.now();
      const reason = await ra.downed(tickTimeoutMs * 10 + 2000);
      assert.ok(reason instanceof TimeoutError, String(reason));
      assert.ok(performance.now() - t0 >= tickTimeoutMs / 2, "not before the tick timeout");
      assert.equal(a.alive, false);
      // Closing the carrier also ends the hung side's connection.
      await rb.downed(5000);
      assert.equal(ra.downs.length, 1);
    } finally {
      a.close();
      b.close();
    }
  });

  test("an oversize frame closes the connection with ProtocolError", async (pair) => {
    const o = await open(pair, {}, { limits: { maxFrameBytes: 1024 } });
    try {
      o.a.send("small");
      o.a.send("x".repeat(4096));
      o.a.send("never handled");
      const reason = await o.rb.downed(5000);
      assert.ok(reason instanceof ProtocolError, String(reason));
      assert.deepEqual(o.rb.messages, ["small"]);
      await o.ra.downed(5000);
      assert.equal(o.rb.downs.length, 1);
    } finally {
      await closeBoth(o);
    }
  });

  test("a frame that does not decode closes the connection and nothing behind it is handled", async (pair) => {
    const o = await open(pair);
    try {
      const good = new Codec().encodeFrame("before");
      const bad = new Uint8Array([0, 0, 0, 2, 0x1c, 0x00]); // reserved CBOR info
      const after = new Codec().encodeFrame("after");
      const chunk = new Uint8Array(good.length + bad.length + after.length);
      chunk.set(good);
      chunk.set(bad, good.length);
      chunk.set(after, good.length + bad.length);
      o.a.sendFrame(chunk);
      const reason = await o.rb.downed(5000);
      assert.ok(reason instanceof ProtocolError, String(reason));
      await sleep(50);
      assert.deepEqual(o.rb.messages, ["before"]);
      assert.equal(o.rb.downs.length, 1);
    } finally {
      await closeBoth(o);
    }
  });

  test("close() reports down once on each side and flushes what was sent before it", async (pair) => {
    const o = await open(pair);
    o.a.send("last words");
    o.a.close();
    o.a.close();
    o.a.send("after close");
    await o.ra.downed(5000);
    await o.rb.downed(5000);
    await o.rb.until(() => o.rb.messages.length >= 1, 2000, "flushed message");
    await sleep(50);
    o.b.close();
    assert.deepEqual(o.ra.downs, [undefined]);
    assert.equal(o.rb.downs.length, 1);
    assert.deepEqual(o.rb.messages, ["last words"]);
    assert.equal(o.a.alive, false);
    assert.equal(o.b.alive, false);
  });

  test("close(reason) hands that reason to down", async (pair) => {
    const o = await open(pair);
    const why = new Error("node closing");
    o.b.close(why);
    assert.equal(await o.rb.downed(5000), why);
    await o.ra.downed(5000);
    assert.equal(o.ra.downs.length, 1);
  });
}
