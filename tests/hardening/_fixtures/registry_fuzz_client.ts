/**
 * The client half of the registry fuzz, run as its own process so that it does not
 * share a core with the registry under test: `deno run -A _registry_fuzz_client.ts
 * <port> <seed> <inputs> <concurrency> <handshakeMs>` prints one JSON summary line.
 * @module
 */
import { createConnection } from "node:net";
import { Codec, FrameReader } from "../../../src/wire/mod.ts";
import {
  describe,
  frameOf,
  mutate,
  randomCbor,
  randomValue,
  Rng,
  Tally,
} from "../../support/fuzz.ts";

const CODES = new Set([
  "bad_request",
  "bad_name",
  "bad_port",
  "name_taken",
  "auth_failed",
  "forbidden",
  "timeout",
]);
const codec = new Codec();
let HANDSHAKE_MS = 1500;

const NAMES = ["fz-legit@localhost", "fz-x@localhost", "a@b", "", "a", "bad name@x", "é@x"];

/** A request as a value: real verbs, with one thing changed now and then. */
function request(rng: Rng): unknown {
  const name = () => rng.chance(0.8) ? rng.pick(NAMES) : randomValue(rng);
  const port = () => rng.chance(0.8) ? 1 + rng.int(65535) : randomValue(rng);
  let r: unknown[];
  switch (rng.int(4)) {
    case 0:
      r = ["lookup", name()];
      break;
    case 1:
      r = ["names"];
      break;
    default:
      r = ["register", name(), port()];
  }
  if (rng.chance(0.15)) r[rng.int(r.length)] = randomValue(rng);
  if (rng.chance(0.05)) r.push(randomValue(rng));
  return rng.chance(0.05) ? randomValue(rng) : r;
}

function encoded(rng: Rng, v: unknown): Uint8Array {
  try {
    return codec.encodeFrame(v).slice();
  } catch {
    return frameOf(rng.bytes(rng.int(30)));
  }
}

/** The bytes one connection sends, and whether it then walks away without waiting. */
function input(rng: Rng): { bytes: Uint8Array[]; abandon: boolean } {
  const k = rng.int(20);
  if (k < 10) {
    const first = encoded(rng, request(rng));
    // A proof after the request: random, or a mutated one; never the real one. A query's
    // names its holder (null for the cookie), a registration's does not.
    const holder = () =>
      rng.chance(0.4) ? null : rng.chance(0.8) ? rng.pick(NAMES) : randomValue(rng);
    const proof = encoded(
      rng,
      rng.chance(0.8)
        ? rng.chance(0.5) ? ["prove", rng.bytes(32)] : ["prove", rng.bytes(32), holder()]
        : randomValue(rng),
    );
    return { bytes: rng.chance(0.5) ? [first, proof] : [first], abandon: false };
  }
  if (k < 14) return { bytes: [mutate(rng, encoded(rng, request(rng)))], abandon: false };
  if (k < 16) return { bytes: [frameOf(new Uint8Array(randomCbor(rng)))], abandon: false };
  if (k < 17) return { bytes: [rng.bytes(1 + rng.int(40))], abandon: rng.chance(0.5) };
  if (k < 18) {
    // A length prefix over the registry's limit, or up to 4 GiB.
    const len = 64 * 1024 + 1 + rng.int(2 ** 32 - 64 * 1024 - 1);
    return {
      bytes: [frameOf(rng.bytes(rng.int(8)), len).subarray(0, 4 + rng.int(8))],
      abandon: false,
    };
  }
  // Half a request, then gone.
  const whole = encoded(rng, request(rng));
  return { bytes: [whole.subarray(0, 1 + rng.int(whole.length - 1))], abandon: true };
}

/** Sends one input; resolves with the frames the registry answered before it closed. */
function exchange(
  port: number,
  bytes: Uint8Array[],
  abandon: boolean,
): Promise<{ frames: unknown[]; closed: boolean; error?: string }> {
  return new Promise((resolve) => {
    const frames: unknown[] = [];
    const reader = new FrameReader({ maxFrameBytes: 1024 * 1024 });
    let error: string | undefined;
    const s = createConnection({ host: "127.0.0.1", port, noDelay: true });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ frames, closed: false });
    }, HANDSHAKE_MS + 15_000);
    s.on("connect", () => {
      for (const b of bytes) s.write(b);
      if (abandon) s.destroy();
    });
    s.on("data", (chunk: Uint8Array) => {
      try {
        reader.push(chunk, (body) => frames.push(codec.decode(body)));
      } catch (e) {
        error = `the registry sent an undecodable frame: ${describe(e)}`;
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ frames, closed: true, ...(error ? { error } : {}) });
    });
  });
}

function judge(frames: unknown[]): string | undefined {
  for (const f of frames) {
    if (!Array.isArray(f)) return `answer is not an array: ${describe(f)}`;
    if (f[0] === "ok" || f[0] === "challenge") continue;
    if (f[0] !== "error" || !CODES.has(f[1] as string) || typeof f[2] !== "string") {
      return `malformed answer ${JSON.stringify(f).slice(0, 200)}`;
    }
  }
  return undefined;
}

/** What the client reports. */
export interface ClientSummary {
  inputs: number;
  accepted: number;
  refused: number;
  crashCount: number;
  crashes: string[];
  answered: number;
  abandoned: number;
}

/** Runs `inputs` exchanges, `concurrency` at a time. */
export async function runClient(
  port: number,
  seed: number,
  inputs: number,
  concurrency: number,
): Promise<ClientSummary> {
  const rng = new Rng(seed);
  const tally = new Tally();
  let answered = 0;
  let abandoned = 0;
  let next = 0;
  const worker = async () => {
    while (next < inputs) {
      const i = next++;
      tally.inputs++;
      const { bytes, abandon } = input(rng);
      const r = await exchange(port, bytes, abandon);
      if (abandon) {
        abandoned++;
        continue;
      }
      if (!r.closed) {
        tally.crash(`input ${i}: the connection was still open after ${HANDSHAKE_MS + 15_000} ms`);
        continue;
      }
      const bad = r.error ?? judge(r.frames);
      if (bad) tally.crash(`input ${i}: ${bad}`);
      if (r.frames.length) answered++;
      const last = r.frames.at(-1) as unknown[] | undefined;
      if (last?.[0] === "ok") tally.accepted++;
      else tally.refused++;
      // The client never holds a key: any "ok" (a registration, a port, a listing) was
      // given without its proof.
      if (r.frames.some((f) => Array.isArray(f) && f[0] === "ok")) {
        tally.crash(`input ${i}: the registry answered "ok" without a proof`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return {
    inputs: tally.inputs,
    accepted: tally.accepted,
    refused: tally.refused,
    crashCount: tally.crashCount,
    crashes: tally.crashes,
    answered,
    abandoned,
  };
}

if (import.meta.main) {
  const [port, seed, inputs, concurrency, handshakeMs] = Deno.args.map(Number);
  HANDSHAKE_MS = handshakeMs!;
  const summary = await runClient(port!, seed!, inputs!, concurrency!);
  console.log(JSON.stringify(summary));
}
