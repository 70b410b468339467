import { AuthenticationError, ProtocolError } from "../errors.ts";
import { cookieKey, type Credentials, hmac, macEqual, proofKey } from "./credentials.ts";

/** Protocol versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS: readonly number[] = [1];

/** Which side of a handshake a node plays. */
export type HandshakeRole = "initiator" | "acceptor";

/** Options for {@linkcode Handshake}. */
export interface HandshakeOptions {
  /** Which side this is. */
  role: HandshakeRole;
  /** This node's full name. */
  self: string;
  /** This node's incarnation. */
  creation: number;
  /** What this node proves itself with. */
  credentials: Credentials;
  /** Initiator: the node it means to reach; a different answer is refused. */
  peer?: string;
  /**
   * Acceptor: asked once the initiator has named itself, before any proof.
   * Return a refusal reason to turn it away (e.g. "pending" during simultaneous dials).
   */
  admit?: (peer: string) => string | undefined;
  /** Random bytes source; tests may fix it. */
  random?: (n: number) => Uint8Array;
}

/** What a completed handshake established. */
export interface HandshakeResult {
  /** The peer's full name. */
  peer: string;
  /** The peer's incarnation. */
  peerCreation: number;
  /** The negotiated protocol version. */
  version: number;
  /** "cookie" when the peer proved it holds the cookie, "ticket" when only its ticket. */
  peerCredential: "cookie" | "ticket";
}

/** A handshake refused by the other side; `reason` is its stable code. */
export class HandshakeRefusedError extends ProtocolError {
  /** The refusal code: "auth", "version", "name", "pending", "ticket", ... */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** One step's output: frames to send, and the end state when reached. */
export interface HandshakeStep {
  /** Values to send, in order. */
  send: unknown[];
  /** Set when the handshake completed. */
  done?: HandshakeResult;
  /** Set when it failed; the frames in `send` (a refusal) go out first. */
  error?: Error;
}

const NONCE_BYTES = 32;
// A hello offering more versions than this is malformed, not a negotiation.
const MAX_VERSIONS = 64;

/**
 * The challenge/response handshake as a pure state machine: it is handed
 * decoded frames and returns frames to send, knowing nothing of the carrier.
 *
 * initiator → ["hello", versions, name, nonce, credKind, creation, peerName]
 * acceptor  → ["challenge", version, name, nonce, credKind, creation] | ["refuse", code, text]
 * initiator → ["proof", mac]
 * acceptor  → ["ack", mac] | ["refuse", code, text]
 *
 * The MAC key is the ticket of the side holding only a ticket, or a key derived
 * from the cookie when both hold it; the secret itself never crosses the wire.
 */
export class Handshake {
  readonly #o: HandshakeOptions;
  readonly #nonce: Uint8Array;
  #state: "start" | "hello" | "challenge" | "proof" | "done" | "failed" = "start";
  #transcript: (string | Uint8Array)[] = [];
  #key: Uint8Array | undefined;
  #result: HandshakeResult | undefined;

  constructor(options: HandshakeOptions) {
    this.#o = options;
    const random = options.random ?? ((n) => crypto.getRandomValues(new Uint8Array(n)));
    this.#nonce = random(NONCE_BYTES);
  }

  /**
   * The first frames to send (the initiator's hello; nothing for the acceptor), or
   * an error when this node's own credentials cannot prove its name.
   */
  start(): HandshakeStep {
    const creds = this.#o.credentials;
    if (creds.kind === "ticket" && creds.name !== this.#o.self) {
      this.#state = "failed";
      return {
        send: [],
        error: new AuthenticationError(
          `handshake: this node is ${this.#o.self} but its ticket is for ${creds.name}`,
        ),
      };
    }
    if (this.#o.role === "acceptor") {
      this.#state = "hello";
      return { send: [] };
    }
    this.#state = "challenge";
    return {
      send: [[
        "hello",
        PROTOCOL_VERSIONS,
        this.#o.self,
        this.#nonce,
        this.#o.credentials.kind,
        this.#o.creation,
        this.#o.peer ?? "",
      ]],
    };
  }

  /** Handles one decoded frame from the peer. */
  receive(msg: unknown): HandshakeStep {
    try {
      return this.#receive(msg);
    } catch (e) {
      this.#state = "failed";
      // Whatever a peer's frame provokes is its protocol error, never another kind.
      const error = e instanceof ProtocolError
        ? e
        : new ProtocolError(`handshake: bad frame (${(e as Error)?.message ?? e})`, { cause: e });
      return { send: [], error };
    }
  }

  #receive(msg: unknown): HandshakeStep {
    if (!Array.isArray(msg) || typeof msg[0] !== "string") {
      throw new ProtocolError("handshake: expected a handshake frame");
    }
    if (msg[0] === "refuse" && this.#o.role === "initiator") {
      const [, code, text] = msg;
      throw new HandshakeRefusedError(
        typeof code === "string" ? code : "unknown",
        `handshake refused by the peer: ${typeof text === "string" ? text : code}`,
      );
    }
    switch (this.#state) {
      case "hello":
        return this.#onHello(msg);
      case "challenge":
        return this.#onChallenge(msg);
      case "proof":
        return this.#onProof(msg);
      default:
        throw new ProtocolError(`handshake: unexpected "${msg[0]}"`);
    }
  }

  #refuse(code: string, text: string, error?: Error): HandshakeStep {
    this.#state = "failed";
    return {
      send: [["refuse", code, text]],
      error: error ?? new HandshakeRefusedError(code, `handshake refused: ${text}`),
    };
  }

  // Acceptor: the initiator named itself.
  #onHello(msg: unknown[]): HandshakeStep {
    const [tag, versions, name, nonce, credKind, creation, wanted] = msg;
    if (
      tag !== "hello" || msg.length !== 7 || !Array.isArray(versions) ||
      versions.length > MAX_VERSIONS || !isName(name) ||
      !(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES ||
      (credKind !== "cookie" && credKind !== "ticket") || !isU32(creation) ||
      typeof wanted !== "string"
    ) {
      throw new ProtocolError("handshake: malformed hello");
    }
    let version = -1;
    for (const v of versions) {
      if (PROTOCOL_VERSIONS.includes(v as number) && (v as number) > version) version = v as number;
    }
    if (version < 0) return this.#refuse("version", `no common protocol version`);
    if (wanted !== "" && wanted !== this.#o.self) {
      return this.#refuse("name", `this node is ${this.#o.self}, not ${wanted}`);
    }
    if (name === this.#o.self) return this.#refuse("name", "a node cannot connect to itself");
    const admitted = this.#o.admit?.(name);
    if (admitted) return this.#refuse(admitted, `connection from ${name} not admitted`);
    const key = this.#pickKey(name, credKind);
    if (!key) return this.#refuse("ticket", "two ticket holders cannot connect to each other");
    this.#key = key;
    const mine = this.#o.credentials.kind;
    this.#transcript = [
      "fusion-handshake-v1",
      String(version),
      name,
      this.#o.self,
      nonce,
      this.#nonce,
      credKind,
      mine,
      String(creation),
      String(this.#o.creation),
      wanted,
      versions.join(","),
    ];
    this.#result = {
      peer: name,
      peerCreation: creation,
      version,
      peerCredential: credKind,
    };
    this.#state = "proof";
    return {
      send: [["challenge", version, this.#o.self, this.#nonce, mine, this.#o.creation]],
    };
  }

  // Initiator: the acceptor answered with its nonce.
  #onChallenge(msg: unknown[]): HandshakeStep {
    const [tag, version, name, nonce, credKind, creation] = msg;
    if (
      tag !== "challenge" || msg.length !== 6 || !PROTOCOL_VERSIONS.includes(version as number) ||
      !isName(name) || !(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES ||
      (credKind !== "cookie" && credKind !== "ticket") || !isU32(creation)
    ) {
      throw new ProtocolError("handshake: malformed challenge");
    }
    if (this.#o.peer !== undefined && name !== this.#o.peer) {
      throw new HandshakeRefusedError("name", `expected node ${this.#o.peer}, found ${name}`);
    }
    const key = this.#pickKey(name, credKind);
    if (!key) {
      throw new HandshakeRefusedError("ticket", "two ticket holders cannot connect to each other");
    }
    this.#key = key;
    this.#transcript = [
      "fusion-handshake-v1",
      String(version),
      this.#o.self,
      name,
      this.#nonce,
      nonce,
      this.#o.credentials.kind,
      credKind,
      String(this.#o.creation),
      String(creation),
      this.#o.peer ?? "",
      PROTOCOL_VERSIONS.join(","),
    ];
    this.#result = {
      peer: name,
      peerCreation: creation,
      version: version as number,
      peerCredential: credKind,
    };
    this.#state = "proof";
    return { send: [["proof", hmac(key, "initiator", ...this.#transcript)]] };
  }

  #onProof(msg: unknown[]): HandshakeStep {
    const key = this.#key!;
    if (this.#o.role === "acceptor") {
      if (msg[0] !== "proof" || msg.length !== 2) {
        throw new ProtocolError("handshake: malformed proof");
      }
      if (!macEqual(hmac(key, "initiator", ...this.#transcript), msg[1])) {
        const peer = this.#result!.peer;
        return this.#refuse(
          "auth",
          "authentication failed",
          new AuthenticationError(`handshake: ${peer} failed to authenticate`),
        );
      }
      this.#state = "done";
      return {
        send: [["ack", hmac(key, "acceptor", ...this.#transcript)]],
        done: this.#result!,
      };
    }
    if (msg[0] !== "ack" || msg.length !== 2) throw new ProtocolError("handshake: malformed ack");
    if (!macEqual(hmac(key, "acceptor", ...this.#transcript), msg[1])) {
      throw new AuthenticationError(`handshake: ${this.#result!.peer} failed to prove itself`);
    }
    this.#state = "done";
    return { send: [], done: this.#result! };
  }

  // Both sides arrive at the same key, or neither can go on.
  #pickKey(peer: string, peerKind: "cookie" | "ticket"): Uint8Array | undefined {
    const creds = this.#o.credentials;
    if (creds.kind === "ticket" && peerKind === "ticket") return undefined;
    if (creds.kind === "ticket") return proofKey(creds, this.#o.self);
    if (peerKind === "ticket") return proofKey(creds, peer);
    return cookieKey(creds);
  }
}

function isName(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 255;
}

function isU32(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}
