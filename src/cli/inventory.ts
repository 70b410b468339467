/**
 * Inventory files (JSON or TOML): named hosts with their settings, defaults
 * for all of them, and groups picked with `@group`. See docs/CLI.md.
 * @module
 */
import { TargetError } from "../errors.ts";
import { type HostKeyPolicy, parseTarget, type SshBackendKind, type Target } from "../ssh/mod.ts";
import { InputError } from "./args.ts";
import { parseToml } from "./toml.ts";

/** An inventory file that cannot be read or does not follow the format. */
export class InventoryError extends InputError {}

/** A parsed inventory. */
export interface Inventory {
  /** The file it came from ("" when parsed from text). */
  path: string;
  /** Host name → target, in file order. */
  hosts: Map<string, Target>;
  /** Group name → host names, flattened (nested groups resolved), in order, without repeats. */
  groups: Map<string, string[]>;
}

/** Options for {@linkcode parseInventory}. */
export interface ParseInventoryOptions {
  /** "json" or "toml"; default: guessed from `path`'s extension, else from the text. */
  format?: "json" | "toml";
  /** The file's path: names it in errors and anchors relative key/knownHosts paths. */
  path?: string;
}

const HOST_FIELDS = [
  "host",
  "user",
  "port",
  "key",
  "deno",
  "hostKeys",
  "knownHosts",
  "proxyJump",
  "sshBackend",
] as const;
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const POLICIES: HostKeyPolicy[] = ["strict", "accept-new", "insecure"];

/** Reads and parses an inventory file. Throws InventoryError. */
export async function loadInventory(path: string): Promise<Inventory> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new InventoryError(
      `cannot read inventory ${path}: ${(e as Error).message.split("\n")[0]}`,
      { cause: e },
    );
  }
  return parseInventory(text, { path });
}

/** Parses an inventory's text. Throws InventoryError naming the file and the entry. */
export function parseInventory(text: string, options: ParseInventoryOptions = {}): Inventory {
  const path = options.path ?? "";
  const where = path ? `inventory ${path}` : "inventory";
  const fail = (msg: string): never => {
    throw new InventoryError(`${where}: ${msg}`);
  };
  const format = options.format ??
    (/\.json$/i.test(path)
      ? "json"
      : /\.toml$/i.test(path)
      ? "toml"
      : text.trimStart().startsWith("{")
      ? "json"
      : "toml");
  let doc: unknown;
  try {
    doc = format === "json" ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    fail(`not valid ${format.toUpperCase()}: ${(e as Error).message}`);
  }
  if (!isRecord(doc)) return fail("the top level must be an object");
  for (const k of Object.keys(doc)) {
    if (!["defaults", "hosts", "groups"].includes(k)) {
      fail(`unknown top-level key "${k}" (expected defaults, hosts, groups)`);
    }
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const defaults = doc.defaults ?? {};
  if (!isRecord(defaults)) return fail(`"defaults" must be a table of host settings`);
  checkFields(defaults, "defaults", fail);

  const hosts = new Map<string, Target>();
  const rawHosts = doc.hosts ?? {};
  if (!isRecord(rawHosts)) return fail(`"hosts" must be a table of name → settings`);
  for (const [name, entry] of Object.entries(rawHosts)) {
    if (!NAME_RE.test(name)) {
      fail(`host name "${name}" may only use letters, digits, "_", "." and "-"`);
    }
    if (name === "all") fail(`"all" is reserved (@all picks every host)`);
    let settings: Record<string, unknown>;
    if (typeof entry === "string") {
      let t: Target;
      try {
        t = parseTarget(entry);
      } catch (e) {
        return fail(`host "${name}": ${(e as Error).message}`);
      }
      settings = {
        host: t.host,
        ...(t.username !== undefined ? { user: t.username } : {}),
        ...(t.port !== undefined ? { port: t.port } : {}),
      };
    } else if (isRecord(entry)) {
      settings = entry;
      checkFields(settings, `host "${name}"`, fail);
    } else {
      return fail(`host "${name}" must be a table of settings or a "user@host:port" string`);
    }
    hosts.set(name, toTarget(name, { ...defaults, ...settings }, dir, fail));
  }

  const rawGroups = doc.groups ?? {};
  if (!isRecord(rawGroups)) return fail(`"groups" must be a table of name → list of hosts`);
  for (const [name, members] of Object.entries(rawGroups)) {
    if (!NAME_RE.test(name)) {
      fail(`group name "${name}" may only use letters, digits, "_", "." and "-"`);
    }
    if (name === "all") fail(`"all" is reserved (@all picks every host)`);
    if (!Array.isArray(members) || !members.every((m) => typeof m === "string")) {
      fail(`group "${name}" must be a list of host names and @groups`);
    }
  }
  const groups = new Map<string, string[]>();
  const expand = (name: string, stack: string[]): string[] => {
    const done = groups.get(name);
    if (done) return done;
    if (stack.includes(name)) fail(`groups refer to each other: ${[...stack, name].join(" → ")}`);
    const out: string[] = [];
    for (const m of rawGroups[name] as string[]) {
      if (m.startsWith("@")) {
        const g = m.slice(1);
        if (g === "all") out.push(...hosts.keys());
        else if (!Object.hasOwn(rawGroups, g)) fail(`group "${name}": unknown group "${m}"`);
        else out.push(...expand(g, [...stack, name]));
      } else if (hosts.has(m)) out.push(m);
      else fail(`group "${name}": unknown host "${m}" (list it under [hosts])`);
    }
    const unique = [...new Set(out)];
    groups.set(name, unique);
    return unique;
  };
  for (const name of Object.keys(rawGroups)) expand(name, []);
  groups.set("all", [...hosts.keys()]);
  return { path, hosts, groups };
}

function checkFields(
  settings: Record<string, unknown>,
  what: string,
  fail: (msg: string) => never,
): void {
  for (const k of Object.keys(settings)) {
    if (!(HOST_FIELDS as readonly string[]).includes(k)) {
      fail(`${what}: unknown setting "${k}" (known: ${HOST_FIELDS.join(", ")})`);
    }
  }
}

function toTarget(
  name: string,
  s: Record<string, unknown>,
  dir: string,
  fail: (msg: string) => never,
): Target {
  const what = `host "${name}"`;
  const str = (k: string): string | undefined => {
    const v = s[k];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v === "") fail(`${what}: "${k}" must be a non-empty string`);
    return v as string;
  };
  const hostSpec = str("host") ?? name;
  let target: Target;
  try {
    target = parseTarget(hostSpec);
  } catch (e) {
    return fail(`${what}: ${(e as Error).message}`);
  }
  const user = str("user");
  if (user !== undefined) {
    try {
      parseTarget(`${user}@x`);
    } catch {
      fail(`${what}: invalid user "${user}"`);
    }
    target.username = user;
  }
  if (s.port !== undefined) {
    const p = s.port;
    if (typeof p !== "number" || !Number.isInteger(p) || p < 1 || p > 65535) {
      fail(`${what}: "port" must be a number 1-65535`);
    }
    target.port = p as number;
  }
  const key = str("key");
  if (key !== undefined) target.auth = { key: anchor(key, dir) };
  const deno = str("deno");
  if (deno !== undefined) target.deno = deno;
  const policy = str("hostKeys");
  if (policy !== undefined && !POLICIES.includes(policy as HostKeyPolicy)) {
    fail(`${what}: "hostKeys" must be one of ${POLICIES.join(", ")}`);
  }
  let knownHosts: string[] | undefined;
  if (s.knownHosts !== undefined) {
    const kh = s.knownHosts;
    const list = Array.isArray(kh) ? kh : [kh];
    if (list.length === 0 || !list.every((x) => typeof x === "string" && x !== "")) {
      fail(`${what}: "knownHosts" must be a path or a list of paths`);
    }
    knownHosts = (list as string[]).map((p) => anchor(p, dir));
  }
  if (policy !== undefined || knownHosts !== undefined) {
    target.hostKeys = {
      ...(policy !== undefined ? { policy: policy as HostKeyPolicy } : {}),
      ...(knownHosts !== undefined
        ? { knownHosts: knownHosts.length === 1 ? knownHosts[0]! : knownHosts }
        : {}),
    };
  }
  const jump = str("proxyJump");
  if (jump !== undefined) target.proxyJump = jump;
  const backend = str("sshBackend");
  if (backend !== undefined) {
    if (backend !== "ssh2" && backend !== "system") {
      fail(`${what}: "sshBackend" must be "ssh2" or "system"`);
    }
    target.sshBackend = backend as SshBackendKind;
  }
  return target;
}

// A relative local path is taken relative to the inventory file.
function anchor(path: string, dir: string): string {
  if (path.startsWith("/") || path === "~" || path.startsWith("~/")) return path;
  return `${dir}/${path}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** One host to work on: the label its results carry, and its target. */
export interface HostEntry {
  /** The inventory name, or the spec as written. */
  label: string;
  target: Target;
}

/**
 * Turns a hosts argument ("web-01,deploy@10.0.1.5:22,@db") into targets:
 * `@group` and inventory names from `inventory`, anything else parsed as a
 * target (`user@host[:port]` or an ssh config alias). Repeats are dropped.
 * Throws TargetError or InventoryError.
 */
export function resolveHosts(spec: string, inventory?: Inventory): HostEntry[] {
  const items = spec.split(",").map((s) => s.trim());
  if (items.some((s) => s === "")) {
    throw new TargetError(`malformed hosts "${spec}": empty entry in the comma list`);
  }
  const out: HostEntry[] = [];
  const seen = new Set<string>();
  const add = (label: string, target: Target) => {
    if (seen.has(label)) return;
    seen.add(label);
    out.push({ label, target: structuredClone(target) });
  };
  for (const item of items) {
    if (item.startsWith("@")) {
      const g = item.slice(1);
      if (!inventory) {
        throw new InventoryError(`${item}: groups need an inventory (--inventory FILE)`);
      }
      const members = inventory.groups.get(g);
      if (!members) {
        const known = [...inventory.groups.keys()].join(", ");
        throw new InventoryError(`unknown group ${item} (groups: ${known})`);
      }
      for (const m of members) add(m, inventory.hosts.get(m)!);
    } else if (inventory?.hosts.has(item)) {
      add(item, inventory.hosts.get(item)!);
    } else {
      add(item, parseTarget(item));
    }
  }
  return out;
}
