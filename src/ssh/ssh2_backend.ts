/**
 * The default backend: npm:ssh2 in-process, no ssh binary needed.
 * @module
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { Buffer } from "node:buffer";
import type { Duplex } from "node:stream";
import { AuthError, ConnectError, HostKeyError, TimeoutError } from "../errors.ts";
import type {
  ExecChannel,
  ExecExit,
  ExecOptions,
  ForwardOptions,
  ForwardTunnel,
  ReverseOptions,
  ReverseTunnel,
  SshBackend,
  SshCloseInfo,
  UploadOptions,
} from "./backend.ts";
import { CloseSignal, splice, uploadViaExec } from "./_common.ts";
import { prepareHostKeyCheck } from "./host_key.ts";
import { type Credential, describe, type ResolvedTarget } from "./resolve.ts";
import {
  newSsh2Client,
  parseSsh2Key,
  SSH2_CIPHERS,
  SSH2_HOST_KEY_ALGORITHMS,
  type Ssh2AuthAttempt,
  type Ssh2Channel,
  type Ssh2Client,
} from "./_ssh2.ts";

/** Options for {@linkcode connectSsh2}. */
export interface Ssh2ConnectOptions {
  /** Whole connect (TCP, handshake, host key, auth) must finish within this. */
  connectTimeoutMs: number;
  /** Keepalive period; 0 disables. */
  keepaliveIntervalMs: number;
  /** Unanswered keepalives before the connection counts as dropped. */
  keepaliveCountMax: number;
  /** An already-open byte stream to the server (a ProxyJump channel). */
  sock?: Duplex;
  /** A connection this one runs through; closed with it. */
  via?: SshBackend;
  /** Debug log. */
  debug?: (line: string) => void;
}

interface LoadedCredential {
  label: string;
  /** Server-side method name. */
  method: "publickey" | "password";
  attempt(username: string): Ssh2AuthAttempt;
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0] ?? "";
}

async function loadCredentials(
  t: ResolvedTarget,
  extra: Credential[],
): Promise<LoadedCredential[]> {
  const out: LoadedCredential[] = [];
  const all = [...t.credentials, ...extra];
  for (const c of all) {
    if (c.type === "password") {
      out.push({
        label: "password",
        method: "password",
        attempt: (username) => ({ type: "password", username, password: c.password }),
      });
    } else if (c.type === "agent") {
      try {
        await Deno.stat(c.socket);
      } catch {
        if (t.authExplicit && t.credentials.includes(c)) {
          throw new AuthError(
            `ssh-agent socket ${c.socket} does not exist (is the agent running?)`,
          );
        }
        continue;
      }
      out.push({
        label: `ssh-agent (${c.socket})`,
        method: "publickey",
        attempt: (username) => ({ type: "agent", username, agent: c.socket }),
      });
    } else {
      let data: Buffer;
      try {
        data = Buffer.from(await Deno.readFile(c.path));
      } catch (e) {
        if (!c.explicit) continue;
        throw new AuthError(
          e instanceof Deno.errors.NotFound
            ? `key file ${c.path} does not exist`
            : `cannot read key file ${c.path}: ${firstLine(e)}`,
          { cause: e },
        );
      }
      const parsed = parseSsh2Key(data, c.passphrase);
      if (parsed instanceof Error) {
        if (!c.explicit) continue;
        const encrypted = /encrypt|passphrase|decrypt|bad decrypt/i.test(parsed.message);
        throw new AuthError(
          encrypted && c.passphrase === undefined
            ? `key file ${c.path} is encrypted: give auth.passphrase`
            : encrypted
            ? `cannot decrypt key file ${c.path}: wrong passphrase`
            : `key file ${c.path} is not a usable private key: ${parsed.message}`,
          { cause: parsed },
        );
      }
      if (!parsed.isPrivateKey()) {
        if (!c.explicit) continue;
        throw new AuthError(`key file ${c.path} holds a public key, not a private key`);
      }
      const passphrase = c.passphrase;
      out.push({
        label: `publickey ${c.path}`,
        method: "publickey",
        attempt: (username) => ({
          type: "publickey",
          username,
          key: data,
          ...(passphrase !== undefined ? { passphrase } : {}),
        }),
      });
    }
  }
  return out;
}

function tcpConnect(host: string, port: number): { socket: Socket; ready: Promise<void> } {
  const socket = createConnection({ host, port, noDelay: true });
  const ready = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => {
      socket.setNoDelay(true);
      resolve();
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
      const code = e.code ?? "";
      const msg = code === "ECONNREFUSED"
        ? `connection refused by ${where} (is sshd listening there?)`
        : code === "ENOTFOUND" || code === "EAI_AGAIN"
        ? `cannot resolve host "${host}"`
        : code === "EHOSTUNREACH" || code === "ENETUNREACH"
        ? `${where} is unreachable`
        : `cannot connect to ${where}: ${firstLine(e)}`;
      reject(new ConnectError(msg, { cause: e }));
    });
  });
  return { socket, ready };
}

/** Connects with ssh2 to an already resolved target. */
export async function connectSsh2(
  t: ResolvedTarget,
  options: Ssh2ConnectOptions,
  extraCredentials: Credential[] = [],
): Promise<SshBackend> {
  const who = describe(t);
  const creds = await loadCredentials(t, extraCredentials);
  if (creds.length === 0) {
    throw new AuthError(
      t.authExplicit
        ? `no usable credentials for ${who}`
        : `no credentials for ${who}: SSH_AUTH_SOCK is not set and none of ~/.ssh/id_ed25519, ` +
          `~/.ssh/id_ecdsa, ~/.ssh/id_rsa (or the ssh config's IdentityFile) is usable; set target.auth`,
    );
  }
  const check = await prepareHostKeyCheck(t.host, t.port, {
    policy: t.policy,
    knownHosts: t.knownHosts,
    knownHostsExplicit: t.knownHostsExplicit,
    supportedAlgorithms: SSH2_HOST_KEY_ALGORITHMS,
  });

  let step = "TCP connect";
  let sock: Duplex;
  let tcp: ReturnType<typeof tcpConnect> | undefined;
  if (options.sock) {
    sock = options.sock;
  } else {
    tcp = tcpConnect(t.host, t.port);
    sock = tcp.socket;
  }
  const client = newSsh2Client();
  let hostKeyError: HostKeyError | undefined;
  const tried: string[] = [];
  let serverMethods: string[] | null = null;

  // deno-lint-ignore no-explicit-any
  type Listener = (...args: any[]) => void;
  const listeners: [string, Listener][] = [];
  const listen = (event: string, fn: Listener) => {
    listeners.push([event, fn]);
    client.on(event, fn);
  };
  const connecting = new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      reject(e);
    };
    const timer = setTimeout(() => {
      fail(
        new TimeoutError(
          `connecting to ${who} timed out after ${options.connectTimeoutMs} ms during ${step}`,
        ),
      );
    }, options.connectTimeoutMs);
    const done = () => clearTimeout(timer);
    listen("ready", () => {
      done();
      if (settled) return;
      settled = true;
      resolve();
    });
    listen("error", (e: Error & { level?: string }) => {
      done();
      if (hostKeyError) return fail(hostKeyError);
      if (e.level === "client-authentication") {
        const allowed = serverMethods ? `; the server allows: ${serverMethods.join(",")}` : "";
        return fail(
          new AuthError(
            `authentication failed for ${who}: the server refused ` +
              `${tried.length ? tried.join(", ") : "every credential"}${allowed}`,
            { cause: e },
          ),
        );
      }
      if (e.level === "client-timeout") {
        return fail(
          new TimeoutError(`connecting to ${who} timed out during ${step}`, { cause: e }),
        );
      }
      if (e.level === "handshake" || e.level === "protocol") {
        return fail(
          new ConnectError(`SSH handshake with ${who} failed: ${firstLine(e)}`, { cause: e }),
        );
      }
      fail(
        new ConnectError(`connection to ${who} failed during ${step}: ${firstLine(e)}`, {
          cause: e,
        }),
      );
    });
    listen("close", () => {
      done();
      if (hostKeyError) return fail(hostKeyError);
      fail(new ConnectError(`${who} closed the connection during ${step}`));
    });
    listen("handshake", () => {
      step = "authentication";
    });
    const start = () => {
      step = "SSH handshake";
      client.connect({
        sock,
        username: t.username,
        readyTimeout: 0,
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
        algorithms: { serverHostKey: check.algorithms, cipher: [...SSH2_CIPHERS] },
        ...(options.debug ? { debug: options.debug } : {}),
        hostVerifier: (key, verify) => {
          step = "host key check";
          check.verify(new Uint8Array(key)).then(
            () => {
              step = "SSH handshake";
              verify(true);
            },
            (e: unknown) => {
              hostKeyError = e instanceof HostKeyError
                ? e
                : new HostKeyError(`host key check for ${who} failed: ${firstLine(e)}`, {
                  cause: e,
                });
              verify(false);
            },
          );
          return undefined;
        },
        authHandler: (methodsLeft, _partial, next) => {
          if (methodsLeft) serverMethods = methodsLeft;
          if (methodsLeft === null && tried.length === 0 && !triedNone) {
            triedNone = true;
            return { type: "none", username: t.username };
          }
          while (credIndex < creds.length) {
            const c = creds[credIndex++]!;
            if (methodsLeft && !methodsLeft.includes(c.method)) continue;
            tried.push(c.label);
            next(c.attempt(t.username));
            return undefined;
          }
          return false;
        },
      });
    };
    let credIndex = 0;
    let triedNone = false;
    if (tcp) tcp.ready.then(start, (e) => fail(e));
    else start();
  });

  try {
    await connecting;
  } catch (e) {
    client.on("error", () => {});
    client.destroy();
    sock.destroy();
    if (options.via) await options.via.close();
    throw e;
  } finally {
    for (const [event, fn] of listeners) client.off(event, fn);
  }
  return new Ssh2Backend(t, client, sock, options);
}

interface ReverseEntry {
  localHost: string;
  localPort: number;
  streams: Set<Duplex>;
}

class Ssh2Backend implements SshBackend {
  readonly kind = "ssh2" as const;
  readonly remote;
  readonly #client: Ssh2Client;
  readonly #sock: Duplex;
  readonly #via: SshBackend | undefined;
  readonly #close = new CloseSignal();
  readonly #servers = new Set<Server>();
  readonly #channels = new Set<Duplex>();
  readonly #reverse = new Map<number, ReverseEntry>();
  #requested = false;
  #lastError: Error | undefined;

  constructor(t: ResolvedTarget, client: Ssh2Client, sock: Duplex, options: Ssh2ConnectOptions) {
    this.remote = { host: t.host, port: t.port, username: t.username, alias: t.alias };
    this.#client = client;
    this.#sock = sock;
    this.#via = options.via;
    client.on("error", (e: Error) => {
      this.#lastError = e;
    });
    client.on("close", () => this.#onClosed());
    client.on(
      "tcp connection",
      (info: { destPort: number }, accept: () => Ssh2Channel, reject: () => void) => {
        this.#onReverseConnection(info.destPort, accept, reject);
      },
    );
    // A dropped jump connection takes this one down with it.
    this.#via?.onClose(() => this.#client.destroy());
  }

  get closed(): Promise<SshCloseInfo> {
    return this.#close.promise;
  }

  get connected(): boolean {
    return !this.#close.fired;
  }

  onClose(listener: (info: SshCloseInfo) => void): () => void {
    return this.#close.on(listener);
  }

  #onClosed(): void {
    for (const s of this.#servers) s.close();
    this.#servers.clear();
    for (const c of this.#channels) c.destroy();
    this.#channels.clear();
    for (const r of this.#reverse.values()) for (const s of r.streams) s.destroy();
    this.#reverse.clear();
    this.#sock.destroy();
    const info: SshCloseInfo = this.#requested ? { requested: true } : {
      requested: false,
      error: new ConnectError(
        `connection to ${describe(this.remote)} dropped${
          this.#lastError ? `: ${firstLine(this.#lastError)}` : ""
        }`,
        this.#lastError ? { cause: this.#lastError } : {},
      ),
    };
    const via = this.#via;
    if (via) via.close().finally(() => this.#close.fire(info));
    else this.#close.fire(info);
  }

  #ensureOpen(): void {
    if (this.#close.fired || this.#requested) {
      throw new ConnectError(`the SSH connection to ${describe(this.remote)} is closed`);
    }
  }

  #track<T extends Duplex>(ch: T): T {
    this.#channels.add(ch);
    ch.once("close", () => this.#channels.delete(ch));
    return ch;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecChannel> {
    this.#ensureOpen();
    return await new Promise((resolve, reject) => {
      this.#client.exec(command, (err, channel) => {
        if (err) {
          reject(
            new ConnectError(
              `cannot start a command on ${describe(this.remote)}: ${firstLine(err)}`,
              { cause: err },
            ),
          );
          return;
        }
        this.#track(channel);
        let exitInfo: ExecExit = { code: null, signal: null };
        channel.on("exit", (code: number | null, signal?: string) => {
          exitInfo = { code: typeof code === "number" ? code : null, signal: signal ?? null };
        });
        channel.on("error", () => {});
        channel.stderr.on("error", () => {});
        const exit = new Promise<ExecExit>((res) => channel.once("close", () => res(exitInfo)));
        const onAbort = () => channel.close();
        options.signal?.addEventListener("abort", onAbort, { once: true });
        exit.then(() => options.signal?.removeEventListener("abort", onAbort));
        resolve({
          stdin: channel,
          stdout: channel,
          stderr: channel.stderr,
          duplex: channel,
          exit,
          close: () => {
            try {
              // sshd does not stop a command when its channel closes; TERM does.
              channel.signal("TERM");
              channel.close();
            } catch {
              channel.destroy();
            }
          },
        });
      });
    });
  }

  #openDirect(host: string, port: number, srcIp = "127.0.0.1", srcPort = 0): Promise<Ssh2Channel> {
    return new Promise((resolve, reject) => {
      this.#client.forwardOut(srcIp, srcPort, host, port, (err, ch) => {
        if (err) {
          reject(
            new ConnectError(`the server could not open ${host}:${port}: ${firstLine(err)}`, {
              cause: err,
            }),
          );
        } else resolve(this.#track(ch));
      });
    });
  }

  async dial(remoteHost: string, remotePort: number): Promise<Duplex> {
    this.#ensureOpen();
    const ch = await this.#openDirect(remoteHost, remotePort);
    ch.on("error", () => {});
    return ch;
  }

  async forward(remotePort: number, options: ForwardOptions = {}): Promise<ForwardTunnel> {
    this.#ensureOpen();
    const remoteHost = options.remoteHost ?? "127.0.0.1";
    const sockets = new Set<Socket>();
    const server = createServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      socket.pause();
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("close", () => sockets.delete(socket));
      this.#openDirect(
        remoteHost,
        remotePort,
        socket.remoteAddress ?? "127.0.0.1",
        socket.remotePort ?? 0,
      )
        .then((ch) => {
          ch.on("error", () => {});
          splice(socket, ch);
          socket.resume();
        }, () => socket.destroy());
    });
    this.#servers.add(server);
    return await new Promise((resolve, reject) => {
      server.once("error", (e) => {
        this.#servers.delete(server);
        reject(new ConnectError(`cannot listen on 127.0.0.1: ${firstLine(e)}`, { cause: e }));
      });
      server.listen({ host: "127.0.0.1", port: 0 }, () => {
        const addr = server.address();
        const localPort = typeof addr === "object" && addr ? addr.port : 0;
        let closing: Promise<void> | undefined;
        resolve({
          localHost: "127.0.0.1",
          localPort,
          remoteHost,
          remotePort,
          close: () => {
            closing ??= new Promise<void>((res) => {
              this.#servers.delete(server);
              for (const s of sockets) s.destroy();
              server.close(() => res());
            });
            return closing;
          },
        });
      });
    });
  }

  #onReverseConnection(port: number, accept: () => Ssh2Channel, reject: () => void): void {
    const entry = this.#reverse.get(port);
    if (!entry) return reject();
    const local = createConnection({ host: entry.localHost, port: entry.localPort, noDelay: true });
    local.once("error", () => {
      reject();
      local.destroy();
    });
    local.once("connect", () => {
      local.setNoDelay(true);
      local.removeAllListeners("error");
      local.on("error", () => {});
      const ch = this.#track(accept());
      ch.on("error", () => {});
      entry.streams.add(ch);
      ch.once("close", () => entry.streams.delete(ch));
      splice(local, ch);
    });
  }

  async reverse(localPort: number, options: ReverseOptions = {}): Promise<ReverseTunnel> {
    this.#ensureOpen();
    const localHost = options.localHost ?? "127.0.0.1";
    return await new Promise((resolve, reject) => {
      this.#client.forwardIn("127.0.0.1", options.remotePort ?? 0, (err, port) => {
        if (err) {
          reject(
            new ConnectError(
              `${describe(this.remote)} refused a reverse tunnel (is AllowTcpForwarding off?): ${
                firstLine(err)
              }`,
              { cause: err },
            ),
          );
          return;
        }
        const entry: ReverseEntry = { localHost, localPort, streams: new Set() };
        this.#reverse.set(port, entry);
        let closing: Promise<void> | undefined;
        resolve({
          remoteHost: "127.0.0.1",
          remotePort: port,
          localHost,
          localPort,
          close: () => {
            closing ??= new Promise<void>((res) => {
              this.#reverse.delete(port);
              for (const s of entry.streams) s.destroy();
              if (this.#close.fired) return res();
              try {
                this.#client.unforwardIn("127.0.0.1", port, () => res());
              } catch {
                res();
              }
            });
            return closing;
          },
        });
      });
    });
  }

  upload(path: string, data: Uint8Array, options: UploadOptions = {}): Promise<void> {
    return uploadViaExec((c) => this.exec(c), path, data, options);
  }

  async close(): Promise<void> {
    if (!this.#close.fired) {
      this.#requested = true;
      for (const s of this.#servers) s.close();
      const timer = setTimeout(() => this.#client.destroy(), 2000);
      this.#client.end();
      await this.#close.promise;
      clearTimeout(timer);
    }
    await this.#close.promise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
