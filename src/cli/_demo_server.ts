/**
 * A throwaway SSH server for `fusion demo`: npm:ssh2's Server on 127.0.0.1,
 * an in-memory ed25519 host key, one user (the current one) with a throwaway
 * key or a random password, exec as that user, and TCP forwarding limited to
 * loopback. Only the demo uses it; Fusion itself is tested against OpenSSH.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { userInfo } from "node:os";
import process from "node:process";
import { Buffer } from "node:buffer";
import type { Duplex, Writable } from "node:stream";
import type { EventEmitter } from "node:events";
import { knownHostsName, ssh2 } from "../ssh/mod.ts";

/** Options for {@linkcode startDemoServer}. */
export interface DemoServerOptions {
  /** HOME (and working directory) for the commands it runs; default the user's own. */
  home?: string;
  /** Extra environment variables for the commands it runs. */
  env?: Record<string, string>;
  /** Debug lines (ssh2's, and what the server refuses). */
  log?: (line: string) => void;
}

/** A running demo server. */
export interface DemoServer extends AsyncDisposable {
  /** Always "127.0.0.1". */
  readonly host: string;
  /** The port the kernel chose. */
  readonly port: number;
  /** The only user it accepts: the current one. */
  readonly username: string;
  /** A private key (OpenSSH format) it accepts for `username`. */
  readonly clientKey: string;
  /** A random password it accepts for `username`. */
  readonly password: string;
  /** Its host key as "ssh-ed25519 AAAA…". */
  readonly hostKey: string;
  /** A known_hosts line for this server ("[127.0.0.1]:port ssh-ed25519 AAAA…"). */
  readonly knownHostsLine: string;
  /** Stops listening, closes every connection, kills every command it started. */
  close(): Promise<void>;
}

// --- the parts of npm:ssh2's server API used here (the package ships no types) ---

interface KeyPair {
  private: string;
  public: string;
}
interface ParsedKey {
  type: string;
  getPublicSSH(): Buffer;
  verify(data: Buffer, signature: Buffer, hashAlgo?: string): boolean | Error;
}
interface AuthContext {
  username: string;
  method: string;
  password?: string;
  key?: { algo: string; data: Buffer };
  blob?: Buffer;
  signature?: Buffer;
  hashAlgo?: string;
  accept(): void;
  reject(methods?: string[], partial?: boolean): void;
}
interface ServerChannel extends Duplex {
  stderr: Writable;
  exit(code: number): void;
  exit(signal: string, coreDumped?: boolean, message?: string): void;
  close(): void;
}
type Reply<T = void> = ((arg?: T) => void) | undefined;
type Accept<T> = () => T;
interface Session extends EventEmitter {
  on(
    event: "exec",
    fn: (accept: Accept<ServerChannel>, reject: Reply, info: { command: string }) => void,
  ): this;
  on(event: "signal", fn: (accept: Reply, reject: Reply, info: { name: string }) => void): this;
  on(event: string, fn: (accept: Reply, reject: Reply) => void): this;
}
interface Connection extends EventEmitter {
  setNoDelay(on?: boolean): this;
  forwardOut(
    boundAddr: string,
    boundPort: number,
    remoteAddr: string,
    remotePort: number,
    cb: (err: Error | undefined, channel: Duplex) => void,
  ): this;
  end(): this;
}
interface Ssh2Server extends EventEmitter {
  listen(port: number, host: string, cb: () => void): this;
  address(): { port: number } | string | null;
  close(cb?: () => void): this;
}
const lib = ((ssh2 as unknown as { default?: unknown }).default ?? ssh2) as {
  Server: new (
    config: {
      hostKeys: string[];
      algorithms?: { cipher?: string[]; serverHostKey?: string[] };
      ident?: string;
      debug?: (line: string) => void;
    },
    onConnection: (client: Connection, info: { ip: string; port: number }) => void,
  ) => Ssh2Server;
  utils: {
    generateKeyPairSync(type: "ed25519"): KeyPair;
    parseKey(data: string | Buffer): ParsedKey | Error;
  };
};

// chacha20-poly1305 first, as the client does (see SSH2_CIPHERS and ssh2_module.ts).
const CIPHERS = [
  "chacha20-poly1305@openssh.com",
  "aes128-gcm@openssh.com",
  "aes256-gcm@openssh.com",
  "aes128-ctr",
  "aes256-ctr",
];
// How long a command gets between SIGTERM and SIGKILL once its channel is gone.
const KILL_GRACE_MS = 2000;

function parse(key: string): ParsedKey {
  const k = lib.utils.parseKey(key);
  const first = Array.isArray(k) ? k[0] : k;
  if (first instanceof Error) throw first;
  return first as ParsedKey;
}

/**
 * An ed25519 pair whose keys parse. ssh2's keygen strips leading zero bytes
 * from the public key's bit string, so a key that starts with 0x00 (1 in 256)
 * comes out 31 bytes long and malformed: draw again.
 */
function ed25519Pair(): KeyPair {
  for (;;) {
    const pair = lib.utils.generateKeyPairSync("ed25519");
    const pub = lib.utils.parseKey(pair.public);
    const priv = lib.utils.parseKey(pair.private);
    if (!(pub instanceof Error) && !(priv instanceof Error)) return pair;
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  // Compare against itself when lengths differ so timing says nothing about the secret.
  const ok = a.length === b.length;
  return timingSafeEqual(a, ok ? b : a) && ok;
}

/** True for an address on the loopback interface (127.0.0.0/8, ::1, "localhost"). */
export function isLoopback(addr: string): boolean {
  return addr === "localhost" || addr === "::1" || addr === "0:0:0:0:0:0:0:1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr) || /^::ffff:127\./i.test(addr);
}

function randomPassword(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
}

/**
 * Starts the demo's SSH server on 127.0.0.1 (kernel-chosen port) with fresh
 * host and client keys. Close it (or `await using`) to stop everything it started.
 */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const log = options.log ?? (() => {});
  const username = userInfo().username;
  const hostPair = ed25519Pair();
  const clientPair = ed25519Pair();
  const clientPublic = parse(clientPair.public);
  const password = randomPassword();
  const passwordBytes = Buffer.from(password);
  const userBytes = Buffer.from(username);

  const connections = new Set<Connection>();
  const listeners = new Set<Server>();
  const sockets = new Set<Socket | Duplex>();
  const children = new Set<ChildProcess>();
  let closing = false;

  const track = <T extends Socket | Duplex>(s: T): T => {
    sockets.add(s);
    s.on("error", () => {});
    s.once("close", () => sockets.delete(s));
    return s;
  };

  const env = {
    ...Deno.env.toObject(),
    ...(options.home !== undefined ? { HOME: options.home } : {}),
    USER: username,
    LOGNAME: username,
    ...options.env,
  };
  const cwd = options.home ?? env.HOME ?? "/";

  const killGroup = (child: ChildProcess, signal: string) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch { /* already gone */ }
  };

  const runCommand = (channel: ServerChannel, command: string) => {
    // Its own process group (setsid), so that closing the channel can kill all of it.
    const child = spawn("/bin/sh", ["-c", command], {
      cwd,
      env,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    children.add(child);
    let exited = false;
    child.stdin!.on("error", () => {});
    channel.on("error", () => {});
    channel.pipe(child.stdin!);
    child.stdout!.pipe(channel, { end: false });
    child.stderr!.pipe(channel.stderr, { end: false });
    child.once("error", (e) => {
      log(`demo sshd: cannot run /bin/sh: ${e.message}`);
      if (exited) return;
      exited = true;
      children.delete(child);
      channel.stderr.write(`${e.message}\n`);
      channel.exit(127);
      channel.end();
    });
    // "close": the process ended and its stdout/stderr are drained.
    child.once("close", (code, signal) => {
      if (exited) return;
      exited = true;
      children.delete(child);
      // Whatever the shell left in its group goes with it, as when sshd's session ends.
      killGroup(child, "SIGTERM");
      try {
        if (signal) channel.exit(signal.replace(/^SIG/, ""), false, "");
        else channel.exit(code ?? 255);
        channel.end();
      } catch { /* the channel is already gone */ }
    });
    channel.once("close", () => {
      if (exited) return;
      killGroup(child, "SIGTERM");
      const t = setTimeout(() => killGroup(child, "SIGKILL"), KILL_GRACE_MS);
      child.once("close", () => clearTimeout(t));
    });
    return child;
  };

  const onSession = (session: Session) => {
    let child: ChildProcess | undefined;
    session.on("exec", (accept, _reject, info) => {
      const channel = accept();
      child = runCommand(channel, info.command);
    });
    session.on("signal", (accept, _reject, info) => {
      if (child) killGroup(child, `SIG${info.name}`);
      accept?.();
    });
    // No shells, ptys, subsystems (sftp) or agent/X11 forwarding: exec is all Fusion needs.
    for (const what of ["pty", "shell", "subsystem", "sftp", "x11", "auth-agent", "env"]) {
      session.on(what, (_accept, reject) => reject?.());
    }
  };

  const onReverseRequest = (
    client: Connection,
    forwards: Map<string, Server>,
    accept: Reply<number>,
    reject: Reply,
    name: string,
    info: { bindAddr?: string; bindPort?: number },
  ) => {
    const bindAddr = info.bindAddr ?? "";
    const bindPort = info.bindPort ?? -1;
    if (name === "cancel-tcpip-forward") {
      const key = `${bindAddr}:${bindPort}`;
      const listener = forwards.get(key);
      if (!listener) return reject?.();
      forwards.delete(key);
      listeners.delete(listener);
      listener.close();
      return accept?.();
    }
    if (name !== "tcpip-forward") return reject?.();
    // Listen on 127.0.0.1 only, whatever loopback name was asked for.
    if (!(bindAddr === "127.0.0.1" || bindAddr === "localhost")) {
      log(`demo sshd: refused a reverse tunnel on ${bindAddr}:${bindPort} (loopback only)`);
      return reject?.();
    }
    const listener = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      track(socket);
      socket.pause();
      const port = (listener.address() as { port: number }).port;
      client.forwardOut(
        bindAddr,
        port,
        socket.remoteAddress ?? "127.0.0.1",
        socket.remotePort ?? 0,
        (err, channel) => {
          if (err) return socket.destroy();
          track(channel);
          splice(socket, channel);
          socket.resume();
        },
      );
    });
    listener.once("error", (e) => {
      log(`demo sshd: cannot listen on 127.0.0.1:${bindPort}: ${e.message}`);
      reject?.();
    });
    listener.listen({ host: "127.0.0.1", port: bindPort }, () => {
      const port = (listener.address() as { port: number }).port;
      if (closing) {
        listener.close();
        return reject?.();
      }
      listeners.add(listener);
      forwards.set(`${bindAddr}:${port}`, listener);
      accept?.(port);
    });
  };

  const onDirect = (
    accept: Accept<Duplex>,
    reject: () => void,
    info: { destIP: string; destPort: number },
  ) => {
    if (!isLoopback(info.destIP)) {
      log(`demo sshd: refused a forward tunnel to ${info.destIP}:${info.destPort} (loopback only)`);
      return reject();
    }
    const host = info.destIP === "localhost" ? "127.0.0.1" : info.destIP;
    const socket = createConnection({ host, port: info.destPort, noDelay: true });
    socket.once("error", () => reject());
    socket.once("connect", () => {
      socket.setNoDelay(true);
      socket.removeAllListeners("error");
      track(socket);
      const channel = track(accept());
      splice(socket, channel);
    });
  };

  const server = new lib.Server(
    {
      hostKeys: [hostPair.private],
      algorithms: { cipher: CIPHERS, serverHostKey: ["ssh-ed25519"] },
      ident: "FusionDemo_1.0",
      ...(options.log ? { debug: (l: string) => log(`demo sshd: ${l}`) } : {}),
    },
    (client) => {
      if (closing) return client.end();
      client.setNoDelay(true);
      connections.add(client);
      const forwards = new Map<string, Server>();
      client.on("error", () => {});
      client.on("authentication", (ctx: AuthContext) => {
        if (!sameBytes(Buffer.from(ctx.username), userBytes)) return ctx.reject();
        if (ctx.method === "password" && ctx.password !== undefined) {
          return sameBytes(Buffer.from(ctx.password), passwordBytes) ? ctx.accept() : ctx.reject();
        }
        if (ctx.method === "publickey" && ctx.key) {
          const matches = ctx.key.algo === clientPublic.type &&
            sameBytes(ctx.key.data, clientPublic.getPublicSSH());
          if (!matches) return ctx.reject();
          // Without a signature the client only asks whether the key would do.
          if (!ctx.signature || !ctx.blob) return ctx.accept();
          return clientPublic.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true
            ? ctx.accept()
            : ctx.reject();
        }
        ctx.reject(["publickey", "password"]);
      });
      client.on("ready", () => {
        client.on("session", (accept: Accept<Session>) => onSession(accept()));
        client.on(
          "request",
          (accept: Reply<number>, reject: Reply, name: string, info: Record<string, unknown>) =>
            onReverseRequest(client, forwards, accept, reject, name, info),
        );
        client.on("tcpip", onDirect);
      });
      client.once("close", () => {
        connections.delete(client);
        for (const l of forwards.values()) {
          listeners.delete(l);
          l.close();
        }
        forwards.clear();
      });
    },
  );

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      const addr = server.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
  const hostKey = hostPair.public.trim().split(/\s+/).slice(0, 2).join(" ");

  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((r) => server.close(() => r()));
      for (const l of listeners) l.close();
      listeners.clear();
      for (const s of sockets) s.destroy();
      for (const c of connections) c.end();
      const exits = [...children].map((child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("close", () => resolve());
          killGroup(child, "SIGTERM");
          const t = setTimeout(() => killGroup(child, "SIGKILL"), KILL_GRACE_MS);
          child.once("close", () => clearTimeout(t));
        })
      );
      await Promise.all(exits);
      await stopped;
    })();

  return {
    host: "127.0.0.1",
    port,
    username,
    clientKey: clientPair.private,
    password,
    hostKey,
    knownHostsLine: `${knownHostsName("127.0.0.1", port)} ${hostKey}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Pipes two streams into each other; when either ends or fails, both go. */
function splice(a: Duplex, b: Duplex): void {
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on("error", finish);
    s.on("close", finish);
  }
  a.pipe(b);
  b.pipe(a);
}
