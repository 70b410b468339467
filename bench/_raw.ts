/**
 * The raw baselines: a length-prefixed CBOR ping-pong and a byte sink over an
 * SSH-forwarded TCP connection, with none of Fusion's layers (no dist connection,
 * no actors, no requests). The server side is bench/_raw_server.js run with
 * `deno eval` over an exec channel of its own SSH connection.
 * @module
 */
import { createConnection, type Socket } from "node:net";
import { Encoder } from "cbor-x";
import type { ExecChannel, SshBackend, Target } from "../src/ssh/mod.ts";
import { connectSsh } from "../src/ssh/mod.ts";

const SERVER_SOURCE = await Deno.readTextFile(new URL("./_raw_server.js", import.meta.url));

function sq(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** One SSH connection with the raw server running behind a forward tunnel. */
export class RawTunnel {
  readonly ssh: SshBackend;
  readonly #server: ExecChannel;
  readonly localPort: number;

  private constructor(ssh: SshBackend, server: ExecChannel, localPort: number) {
    this.ssh = ssh;
    this.#server = server;
    this.localPort = localPort;
  }

  /** Connects, starts the raw server, and opens a forward tunnel to it. */
  static async open(target: Target): Promise<RawTunnel> {
    const ssh = await connectSsh(target);
    const server = await ssh.exec(`deno eval --quiet ${sq(SERVER_SOURCE)}`);
    server.stderr.on("data", (c: Uint8Array) => Deno.stderr.writeSync(c));
    const port = await new Promise<number>((resolve, reject) => {
      let buf = "";
      server.stdout.on("data", (c: Uint8Array) => {
        buf += new TextDecoder().decode(c);
        const m = /^(\d+)\n/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      server.exit.then((e) => reject(new Error(`raw server exited: ${JSON.stringify(e)}`)));
    });
    const fwd = await ssh.forward(port);
    return new RawTunnel(ssh, server, fwd.localPort);
  }

  /** A socket through the tunnel in mode "e" (echo) or "s" (sink). */
  socket(mode: "e" | "s"): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: "127.0.0.1", port: this.localPort, noDelay: true });
      s.once("error", reject);
      s.once("connect", () => {
        s.setNoDelay(true);
        s.write(new TextEncoder().encode(mode));
        resolve(s);
      });
    });
  }

  async close(): Promise<void> {
    this.#server.close();
    await this.ssh.close();
  }
}

/** Round trips of a CBOR value in a length-prefixed frame; returns each one's ms. */
export async function rawPingPong(tunnel: RawTunnel, n: number, value: unknown): Promise<number[]> {
  const s = await tunnel.socket("e");
  const enc = new Encoder({ useRecords: false, mapsAsObjects: true });
  const times: number[] = [];
  let buf = new Uint8Array(0);
  let waiter: (() => void) | undefined;
  s.on("data", (c: Uint8Array) => {
    const next = new Uint8Array(buf.length + c.length);
    next.set(buf);
    next.set(c, buf.length);
    buf = next;
    if (buf.length >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset, 4).getUint32(0);
      if (buf.length >= 4 + len) {
        enc.decode(buf.subarray(4, 4 + len));
        buf = buf.slice(4 + len);
        const w = waiter;
        waiter = undefined;
        w?.();
      }
    }
  });
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const body = enc.encode(value);
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length);
    frame.set(body, 4);
    const got = new Promise<void>((r) => waiter = r);
    s.write(frame);
    await got;
    times.push(performance.now() - t0);
  }
  s.destroy();
  return times;
}

/**
 * Writes `chunk` `times` times through the tunnel (waiting for the socket to drain
 * when over 4 MiB is queued) and resolves with the ms until the server has every byte.
 */
export async function rawSink(
  tunnel: RawTunnel,
  chunk: Uint8Array,
  times: number,
): Promise<number> {
  const s = await tunnel.socket("s");
  const total = chunk.length * times;
  const head = new Uint8Array(8);
  new DataView(head.buffer).setBigUint64(0, BigInt(total));
  const done = new Promise<void>((r) => s.once("data", () => r()));
  const t0 = performance.now();
  s.write(head);
  for (let i = 0; i < times; i++) {
    if (!s.write(chunk) && s.writableLength > 4 * 1024 * 1024) {
      await new Promise<void>((r) => s.once("drain", () => r()));
    }
  }
  await done;
  const ms = performance.now() - t0;
  s.destroy();
  return ms;
}
