/**
 * A fault-injecting TCP relay for tests: put it between a client and a server
 * on 127.0.0.1 to add delay and jitter, cap the bandwidth, freeze the link (a
 * silent cut: bytes stop, both sockets stay open) or reset it. This kernel has
 * no netem; this is its stand-in.
 * @module
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** How the link behaves; every field may be changed while it runs. */
export interface LinkShape {
  /** One-way delay added to every chunk, in ms (default 0). */
  delayMs?: number;
  /** Up to this much more delay per chunk, random, in ms (default 0). Order is kept. */
  jitterMs?: number;
  /** Bandwidth cap per direction and connection, in bytes per second (default: none). */
  bytesPerSecond?: number;
}

/** Options for {@linkcode startFaultRelay}. */
export interface FaultRelayOptions extends LinkShape {
  /** Where the server listens (default 127.0.0.1). */
  targetHost?: string;
  /** Seed for the jitter, so a run can be repeated (default random). */
  seed?: number;
}

/** A running relay. */
export interface FaultRelay extends AsyncDisposable {
  /** The relay's own port on 127.0.0.1: point the client here. */
  readonly port: number;
  /** Connections currently relayed. */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Bytes relayed so far, both directions. */
  readonly bytes: number;
  /** Changes delay, jitter or bandwidth for every connection from now on. */
  shape(shape: LinkShape): void;
  /**
   * A silent cut: nothing more crosses in either direction (queued bytes are held
   * back, nothing is read), and every socket stays open. New connections are
   * accepted and frozen too.
   */
  freeze(): void;
  /** Lets bytes flow again, held ones first. */
  thaw(): void;
  /** Resets every connection (TCP RST to both sides). */
  reset(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

// A relayed direction stops reading once this much is waiting to be sent on (flow control).
const HIGH_WATER = 512 * 1024;
// Chunks are cut to this size so that a bandwidth cap paces them smoothly.
const SLICE = 16 * 1024;

interface Pending {
  data: Uint8Array;
  at: number;
}

/** One direction of one connection: bytes read from `from` are written to `to` later. */
class Pipe {
  readonly #from: Socket;
  readonly #to: Socket;
  readonly #relay: Relay;
  readonly #queue: Pending[] = [];
  #queued = 0;
  #linkFree = 0;
  #lastAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #readPaused = false;

  constructor(from: Socket, to: Socket, relay: Relay) {
    this.#from = from;
    this.#to = to;
    this.#relay = relay;
    from.on("data", (chunk: Uint8Array) => this.#read(chunk));
    from.on("end", () => this.#push(null));
  }

  #read(chunk: Uint8Array): void {
    for (let off = 0; off < chunk.length; off += SLICE) {
      this.#push(chunk.subarray(off, Math.min(chunk.length, off + SLICE)));
    }
  }

  // null marks the end of the stream, sent on in order.
  #push(data: Uint8Array | null): void {
    const s = this.#relay.shapeNow;
    const now = performance.now();
    let departs = now;
    if (data && s.bytesPerSecond) {
      departs = Math.max(now, this.#linkFree) + (data.length * 1000) / s.bytesPerSecond;
      this.#linkFree = departs;
    }
    const jitter = s.jitterMs ? this.#relay.random() * s.jitterMs : 0;
    // Never before the chunk ahead of it: a TCP link reorders nothing.
    const at = Math.max(departs + (s.delayMs ?? 0) + jitter, this.#lastAt);
    this.#lastAt = at;
    this.#queue.push({ data: data ?? END, at });
    if (data) this.#queued += data.length;
    if (this.#queued > HIGH_WATER && !this.#readPaused) {
      this.#readPaused = true;
      this.#from.pause();
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#relay.frozen) return;
    const head = this.#queue[0];
    if (!head) return;
    const wait = Math.max(0, head.at - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#deliver();
    }, wait);
  }

  #deliver(): void {
    if (this.#relay.frozen) return;
    const now = performance.now();
    while (this.#queue.length && this.#queue[0]!.at <= now + 0.5) {
      const { data } = this.#queue.shift()!;
      if (data === END) {
        this.#to.end();
        continue;
      }
      this.#queued -= data.length;
      this.#relay.count(data.length);
      if (!this.#to.destroyed) this.#to.write(data);
    }
    if (this.#readPaused && this.#queued < HIGH_WATER / 2 && !this.#relay.frozen) {
      this.#readPaused = false;
      this.#from.resume();
    }
    this.#schedule();
  }

  freeze(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#from.pause();
  }

  thaw(): void {
    // Held chunks go out now, still in order; the link does not make up for lost time.
    const now = performance.now();
    for (const p of this.#queue) p.at = Math.max(p.at, now);
    if (!this.#readPaused) this.#from.resume();
    this.#schedule();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
  }
}

const END = new Uint8Array(0);

class Relay implements FaultRelay {
  port = 0;
  accepted = 0;
  bytes = 0;
  frozen = false;
  shapeNow: LinkShape;
  readonly #server: Server;
  readonly #pairs = new Set<{ a: Socket; b: Socket; pipes: Pipe[] }>();
  readonly #targetHost: string;
  readonly #targetPort: number;
  #seed: number;

  constructor(targetPort: number, options: FaultRelayOptions) {
    this.#targetPort = targetPort;
    this.#targetHost = options.targetHost ?? "127.0.0.1";
    this.shapeNow = {
      delayMs: options.delayMs ?? 0,
      jitterMs: options.jitterMs ?? 0,
      ...(options.bytesPerSecond ? { bytesPerSecond: options.bytesPerSecond } : {}),
    };
    this.#seed = (options.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    this.#server = createServer(
      { noDelay: true, pauseOnConnect: true, allowHalfOpen: true },
      (a) => this.#accept(a),
    );
    this.#server.on("error", () => {});
  }

  get connections(): number {
    return this.#pairs.size;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen({ host: "127.0.0.1", port: 0 }, () => {
        this.#server.off("error", reject);
        const addr = this.#server.address();
        this.port = typeof addr === "object" && addr ? addr.port : 0;
        resolve();
      });
    });
  }

  /** mulberry32: a small seeded PRNG for the jitter. */
  random(): number {
    this.#seed = (this.#seed + 0x6d2b79f5) >>> 0;
    let t = this.#seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  count(n: number): void {
    this.bytes += n;
  }

  #accept(a: Socket): void {
    this.accepted++;
    a.setNoDelay(true);
    const b = createConnection({
      host: this.#targetHost,
      port: this.#targetPort,
      noDelay: true,
      allowHalfOpen: true,
    });
    const pair = { a, b, pipes: [] as Pipe[] };
    this.#pairs.add(pair);
    let closed = 0;
    const gone = () => {
      this.#pairs.delete(pair);
      for (const p of pair.pipes) p.stop();
    };
    // A reset on one side resets the other; a clean end travels in order, through the pipe.
    const onError = (other: Socket) => () => {
      gone();
      if (!other.destroyed) other.resetAndDestroy();
    };
    a.on("error", onError(b));
    b.on("error", onError(a));
    const onClose = () => {
      if (++closed === 2) gone();
    };
    a.on("close", onClose);
    b.on("close", onClose);
    b.once("connect", () => {
      b.setNoDelay(true);
      pair.pipes.push(new Pipe(a, b, this), new Pipe(b, a, this));
      if (this.frozen) { for (const p of pair.pipes) p.freeze(); }
      else a.resume();
    });
  }

  shape(shape: LinkShape): void {
    this.shapeNow = { ...this.shapeNow, ...shape };
  }

  freeze(): void {
    this.frozen = true;
    for (const pair of this.#pairs) for (const p of pair.pipes) p.freeze();
  }

  thaw(): void {
    this.frozen = false;
    for (const pair of this.#pairs) for (const p of pair.pipes) p.thaw();
  }

  reset(): void {
    for (const pair of [...this.#pairs]) {
      for (const p of pair.pipes) p.stop();
      pair.a.resetAndDestroy();
      pair.b.resetAndDestroy();
    }
  }

  close(): Promise<void> {
    const stopped = new Promise<void>((r) => this.#server.close(() => r()));
    for (const pair of [...this.#pairs]) {
      for (const p of pair.pipes) p.stop();
      pair.a.destroy();
      pair.b.destroy();
    }
    this.#pairs.clear();
    return stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Starts a relay on 127.0.0.1 (a kernel-chosen port) in front of `targetPort`. */
export async function startFaultRelay(
  targetPort: number,
  options: FaultRelayOptions = {},
): Promise<FaultRelay> {
  const relay = new Relay(targetPort, options);
  await relay.listen();
  return relay;
}
