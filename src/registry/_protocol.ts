import {
  AuthenticationError,
  InvalidNameError,
  NameTakenError,
  ProtocolError,
  TimeoutError,
} from "../errors.ts";

/** Error codes the registry answers with, as `["error", code, message]`. */
export type RegistryErrorCode =
  | "bad_request"
  | "bad_name"
  | "bad_port"
  | "name_taken"
  | "auth_failed"
  | "forbidden"
  | "timeout";

/** Whether `port` is a TCP port a node can advertise. */
export function isPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Turns an `["error", code, message]` reply into the matching typed error. */
export function replyError(reply: unknown): Error | undefined {
  if (!Array.isArray(reply) || reply[0] !== "error") return undefined;
  const code = typeof reply[1] === "string" ? reply[1] : "?";
  const message = `registry: ${typeof reply[2] === "string" ? reply[2] : code}`;
  switch (code) {
    case "name_taken":
      return new NameTakenError(message);
    case "auth_failed":
    case "forbidden":
      return new AuthenticationError(message);
    case "bad_name":
      return new InvalidNameError(message);
    case "timeout":
      return new TimeoutError(message);
    default:
      return new ProtocolError(`${message} (${code})`);
  }
}

/** Throws the reply's error, or a `ProtocolError` when it is not `["ok", ...]`. */
export function expectOk(reply: unknown, what: string): unknown[] {
  const err = replyError(reply);
  if (err) throw err;
  if (!Array.isArray(reply) || reply[0] !== "ok") {
    throw new ProtocolError(`registry: unexpected answer to ${what}`);
  }
  return reply;
}

/** The nonce of a `["challenge", nonce]` reply; throws the reply's error or a `ProtocolError`. */
export function expectChallenge(reply: unknown): Uint8Array {
  const err = replyError(reply);
  if (err) throw err;
  if (
    !Array.isArray(reply) || reply.length !== 2 || reply[0] !== "challenge" ||
    !(reply[1] instanceof Uint8Array) || reply[1].length < 16
  ) {
    throw new ProtocolError("registry: expected a challenge");
  }
  return reply[1];
}
