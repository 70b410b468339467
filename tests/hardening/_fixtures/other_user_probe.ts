/**
 * What another user on the server tries against Fusion's ports there, holding no cookie
 * and no ticket. Bundled by other_user_test.ts and run as that user inside the server's
 * network namespace: `deno run --allow-net=127.0.0.1 --allow-env --allow-sys=uid probe.js '<json ProbeInput>'`.
 * Prints one JSON line: a {@linkcode ProbeReport}.
 * @module
 */
import { openConnection } from "../../../src/dist/connection.ts";
import { type Credentials, ticketFor } from "../../../src/dist/credentials.ts";
import { HandshakeRefusedError } from "../../../src/dist/handshake.ts";
import { tcpConnect } from "../../../src/dist/tcp.ts";
import { lookup, names, register } from "../../../src/registry/mod.ts";
import { Codec, encodeFrame, FrameReader } from "../../../src/wire/mod.ts";

/** The ports and names the prober is told (as if it had read them from `ss` and guessed). */
export interface ProbeInput {
  /** The server-side end of the reverse tunnel to the hub's registry. */
  registryPort: number;
  /** The server-side end of the reverse tunnel to the hub's dist listener. */
  hubPort: number;
  /** The agent's dist listener on the server. */
  agentPort: number;
  /** The hub's full node name. */
  hub: string;
  /** The agent's full node name. */
  agent: string;
}

/** How one attempt ended. */
export interface Attempt {
  /** What was tried. */
  what: string;
  /** True when it succeeded (it must not). */
  ok: boolean;
  /** The error's class name, when it failed. */
  error?: string;
  /** A handshake refusal's code. */
  reason?: string;
  /** The error's message. */
  message?: string;
  /** A raw exchange's frames, as JSON-ish text. */
  frames?: string;
}

/** What the probe prints. */
export interface ProbeReport {
  uid: number | null;
  attempts: Attempt[];
}

const TIMEOUT_MS = 15_000;
const GUESS = new TextEncoder().encode("a-guessed-cookie-0123456789abcdef");
const guessedCookie: Credentials = { kind: "cookie", cookie: GUESS };

// A ticket for `name` made with a guessed cookie: the right shape, the wrong key.
function guessedTicket(name: string): Credentials {
  return { kind: "ticket", name, ticket: ticketFor(GUESS, name) };
}

async function attempt(what: string, fn: () => Promise<unknown>): Promise<Attempt> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    });
    const value = await Promise.race([fn(), late]);
    return { what, ok: true, message: JSON.stringify(value) ?? "undefined" };
  } catch (e) {
    const err = e as Error;
    return {
      what,
      ok: false,
      error: err.name,
      message: err.message,
      ...(e instanceof HandshakeRefusedError ? { reason: e.reason } : {}),
    };
  } finally {
    clearTimeout(timer);
  }
}

// Sends one request with no proof at all and returns whatever comes back before the close.
async function rawRequest(port: number, request: unknown[]): Promise<unknown[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const codec = new Codec();
  const reader = new FrameReader();
  const frames: unknown[] = [];
  try {
    await conn.write(encodeFrame(codec.encode(request)));
    const buf = new Uint8Array(4096);
    // The first answer, then no more: a prover would now have to send its proof.
    while (frames.length === 0) {
      const n = await conn.read(buf);
      if (n === null) break;
      reader.push(buf.subarray(0, n), (body) => frames.push(codec.decode(body)));
    }
  } finally {
    conn.close();
  }
  return frames;
}

function show(v: unknown): string {
  return JSON.stringify(v, (_k, x) => x instanceof Uint8Array ? `<${x.length} bytes>` : x);
}

async function handshake(port: number, self: string, peer: string, credentials: Credentials) {
  const conn = await openConnection(await tcpConnect(port), {
    role: "initiator",
    self,
    creation: 1,
    credentials,
    peer,
    handlers: { up() {}, message() {}, down() {} },
  });
  conn.close();
  return "connected";
}

/** Runs every attempt, one after another. */
export async function probe(input: ProbeInput): Promise<ProbeReport> {
  const { registryPort, hubPort, agentPort, hub, agent } = input;
  const reg = { registryPort, limits: { handshakeTimeoutMs: 5000 } };
  const q = { port: registryPort, limits: { handshakeTimeoutMs: 5000 } };
  const attempts: Attempt[] = [];
  const run = async (what: string, fn: () => Promise<unknown>) =>
    attempts.push(await attempt(what, fn));

  // (a) Register: a name of its own, and the agent's name.
  await run("register a new name with a guessed cookie", async () => {
    const lease = await register("intruder@localhost", 4000, {
      ...reg,
      credentials: guessedCookie,
    });
    await lease.close();
  });
  await run("register the agent's name with a guessed ticket", async () => {
    const lease = await register(agent, 4001, { ...reg, credentials: guessedTicket(agent) });
    await lease.close();
  });
  // (b) Look up and list: with no proof, a guessed cookie, a guessed ticket.
  for (const request of [["lookup", agent], ["names"]]) {
    await run(`${request[0]} with no proof`, async () => {
      const frames = await rawRequest(registryPort, request);
      const first = frames[0];
      if (Array.isArray(first) && first[0] === "ok") return frames;
      throw Object.assign(new Error(show(frames)), { name: "NoAnswer" });
    });
  }
  await run(
    "look up the agent with a guessed cookie",
    () => lookup(agent, { ...q, credentials: guessedCookie }),
  );
  await run(
    "look up the hub with a guessed ticket",
    () => lookup(hub, { ...q, credentials: guessedTicket(agent) }),
  );
  await run("list names with a guessed cookie", () => names({ ...q, credentials: guessedCookie }));
  await run(
    "list names with a guessed ticket",
    () => names({ ...q, credentials: guessedTicket(agent) }),
  );
  // (c) Handshakes: the agent's listener, and the hub through its tunnel.
  await run(
    "handshake with the agent as the hub, guessed cookie",
    () => handshake(agentPort, hub, agent, guessedCookie),
  );
  await run(
    "handshake with the agent as a stranger, guessed cookie",
    () => handshake(agentPort, "intruder@localhost", agent, guessedCookie),
  );
  await run(
    "handshake with the hub as a stranger, guessed cookie",
    () => handshake(hubPort, "intruder@localhost", hub, guessedCookie),
  );
  await run(
    "handshake with the hub as the agent, guessed ticket",
    () => handshake(hubPort, agent, hub, guessedTicket(agent)),
  );

  return { uid: Deno.uid(), attempts };
}

if (import.meta.main) {
  const input = JSON.parse(Deno.args[0]!) as ProbeInput;
  console.log(JSON.stringify(await probe(input)));
}
