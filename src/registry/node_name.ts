import { InvalidNameError } from "../errors.ts";

/** Longest node name accepted, in UTF-8 bytes. */
export const MAX_NODE_NAME_BYTES = 255;

const NAME_RE = /^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$/;

/**
 * Whether `name` is a full node name: `[A-Za-z0-9_.-]+` before one `@`, a host
 * part of the same characters after it, at most 255 bytes in all.
 */
export function isValidNodeName(name: unknown): name is string {
  return typeof name === "string" && name.length <= MAX_NODE_NAME_BYTES && NAME_RE.test(name);
}

/** Returns `name` when it is a valid full node name; throws `InvalidNameError` otherwise. */
export function validateNodeName(name: unknown): string {
  if (isValidNodeName(name)) return name;
  const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 80)) : typeof name;
  throw new InvalidNameError(
    `invalid node name ${shown}: expected name@host using [A-Za-z0-9_.-], at most ${MAX_NODE_NAME_BYTES} bytes`,
  );
}
