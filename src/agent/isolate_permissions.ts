/**
 * Permission descriptors for isolated calls, their validation, and the Deno
 * flags that grant exactly them to a sandbox process.
 * @module
 */

/** One permission: granted (`true`), denied (`false`), or granted for these entries only. */
export type PermissionValue = boolean | readonly string[];

/**
 * What an isolated call may do, in Deno's permission names. A kind left out is
 * denied; `true` grants it fully; a list grants it for those paths, hosts,
 * variable names or programs only (as `--allow-read=a,b` would).
 */
export interface IsolatePermissions {
  /** Network: hosts, `host:port`, `unix:/path`. */
  net?: PermissionValue;
  /** File system reads: paths. */
  read?: PermissionValue;
  /** File system writes: paths. */
  write?: PermissionValue;
  /** Subprocesses: program names or paths. */
  run?: PermissionValue;
  /** Environment variables: names. */
  env?: PermissionValue;
  /** System information: `hostname`, `osRelease`, `loadavg`, ... */
  sys?: PermissionValue;
  /** Foreign function interface: library paths. */
  ffi?: PermissionValue;
  /** Dynamic imports from remote hosts: hosts. */
  import?: PermissionValue;
}

/** Every permission kind, in a fixed order. */
export const PERMISSION_KINDS = [
  "net",
  "read",
  "write",
  "run",
  "env",
  "sys",
  "ffi",
  "import",
] as const;

/** One permission kind. */
export type PermissionKind = typeof PERMISSION_KINDS[number];

/** Permissions with every kind present: `true`, `false`, or a sorted list without duplicates. */
export type NormalizedPermissions = Record<PermissionKind, boolean | string[]>;

/** What the hub sends the agent for an isolated call. */
export interface IsolateSpec {
  permissions: NormalizedPermissions;
  /** The sandbox process is killed after this long. */
  timeoutMs: number;
}

/** Why spawn refuses `isolate`. */
export const ISOLATED_SPAWN =
  "spawn cannot isolate an actor: its mailbox, links and monitors live in the agent's process. " +
  "Spawn it without isolate, and run the untrusted part with run(..., { isolate: true }).";

const KINDS = new Set<string>(PERMISSION_KINDS);
/** Longest list a permission may hold (a receive-side sanity bound). */
const MAX_ENTRIES = 1024;

/**
 * Checks a permissions object and fills in every kind (left out means denied).
 * Throws TypeError naming what is wrong.
 */
export function normalizePermissions(permissions: unknown = {}): NormalizedPermissions {
  if (permissions === null || typeof permissions !== "object" || Array.isArray(permissions)) {
    throw new TypeError("permissions must be an object such as { read: ['/tmp'], net: false }");
  }
  const out = {} as NormalizedPermissions;
  for (const key of Object.keys(permissions)) {
    if (!KINDS.has(key)) {
      throw new TypeError(
        `unknown permission "${key}" (known: ${PERMISSION_KINDS.join(", ")})`,
      );
    }
  }
  for (const kind of PERMISSION_KINDS) {
    const v = (permissions as Record<string, unknown>)[kind];
    if (v === undefined || typeof v === "boolean") {
      out[kind] = v ?? false;
      continue;
    }
    if (!Array.isArray(v) || v.length > MAX_ENTRIES) {
      throw new TypeError(`permission "${kind}" must be true, false or a list of strings`);
    }
    for (const entry of v) {
      if (typeof entry !== "string" || entry === "") {
        throw new TypeError(`permission "${kind}" holds a non-string or empty entry`);
      }
      // Deno's flag syntax separates entries with commas and cannot escape one.
      if (entry.includes(",") || entry.includes("\0")) {
        throw new TypeError(`permission "${kind}" entry ${JSON.stringify(entry)} holds a comma`);
      }
    }
    const list = [...new Set(v as string[])].sort();
    out[kind] = list.length === 0 ? false : list;
  }
  return out;
}

/** Checks the isolate part of a request (receive side). */
export function parseIsolateSpec(spec: unknown): IsolateSpec {
  const s = spec as Partial<IsolateSpec> | null;
  if (s === null || typeof s !== "object") {
    throw new TypeError("isolate must be { permissions, timeoutMs }");
  }
  const timeoutMs = s.timeoutMs;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new TypeError("isolate.timeoutMs must be a positive number");
  }
  return { permissions: normalizePermissions(s.permissions), timeoutMs };
}

/** A stable text form, for pooling sandboxes by permissions. */
export function permissionsKey(p: NormalizedPermissions): string {
  return JSON.stringify(PERMISSION_KINDS.map((k) => p[k]));
}

/**
 * The `deno run` flags granting exactly `p`. Remote imports are denied unless
 * granted, since Deno would otherwise allow a few well-known hosts.
 */
export function permissionFlags(p: NormalizedPermissions): string[] {
  const flags: string[] = [];
  for (const kind of PERMISSION_KINDS) {
    const v = p[kind];
    if (v === true) flags.push(`--allow-${kind}`);
    else if (Array.isArray(v)) flags.push(`--allow-${kind}=${v.join(",")}`);
    else if (kind === "import") flags.push("--deny-import");
  }
  return flags;
}
