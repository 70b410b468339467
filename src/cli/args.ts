/**
 * The `fusion` command line: subcommands, shared options and their checks.
 * Every mistake is a UsageError with a one-line message (exit code 2).
 * @module
 */
import { FusionError } from "../errors.ts";
import type { HostKeyPolicy } from "../ssh/mod.ts";

/** A command line that does not follow the usage (exit code 2). */
export class UsageError extends FusionError {
  /** The subcommand whose usage was broken, when known (for "see fusion X --help"). */
  readonly command: string;
  constructor(message: string, command = "") {
    super(message);
    this.command = command;
  }
}

/** Global input (an inventory, an ssh config, a module) that cannot be used (exit code 2). */
export class InputError extends FusionError {}

/** The subcommands. */
export const COMMANDS = [
  "run",
  "eval",
  "sh",
  "ping",
  "names",
  "registry",
  "clean",
  "demo",
] as const;

/** A subcommand's name. */
export type CommandName = typeof COMMANDS[number];

/** Options every command shares. */
export interface GlobalOptions {
  /** --ssh-config FILE: read this ssh config instead of ~/.ssh/config. */
  sshConfig?: string;
  /** --parallel N: hosts worked on at once (default 20). */
  parallel: number;
  /** --timeout MS: limit for each host's connect, and for its call. */
  timeoutMs?: number;
  /** --json / --ndjson, else human-readable text. */
  output: "text" | "json" | "ndjson";
  /** -v: protocol and SSH logs, stack traces. */
  verbose: boolean;
  /** --inventory FILE (or FUSION_INVENTORY). */
  inventory?: string;
  /** --install-deno: upload Deno to servers without it. */
  installDeno: boolean;
  /** --registry-port PORT (else FUSION_REGISTRY_PORT, else 4370). */
  registryPort?: number;
  /** --host-keys POLICY for targets that do not set their own. */
  hostKeys?: HostKeyPolicy;
}

/** What the command line asks for. */
export type Command =
  | { name: "run"; hosts: string; module: string; fn: string; args: unknown[] }
  | { name: "eval"; hosts: string; expression: string }
  | { name: "sh"; hosts: string; command: string; cwd?: string; env: Record<string, string> }
  | { name: "ping" | "clean"; hosts: string }
  | { name: "names" | "registry" | "demo" }
  | { name: "help"; topic?: CommandName }
  | { name: "version" };

/** A parsed command line. */
export interface ParsedArgs {
  command: Command;
  options: GlobalOptions;
}

interface OptionSpec {
  /** Takes a value (the next word, or after "="). */
  value?: string;
  /** Only these commands accept it; default every command. */
  only?: CommandName[];
}

const OPTIONS: Record<string, OptionSpec> = {
  "--ssh-config": { value: "FILE" },
  "--parallel": { value: "N" },
  "--timeout": { value: "MS" },
  "--json": {},
  "--ndjson": {},
  "--verbose": {},
  "--inventory": { value: "FILE" },
  "--install-deno": {},
  "--registry-port": { value: "PORT" },
  "--host-keys": { value: "POLICY" },
  "--help": {},
  "--version": {},
  "--cwd": { value: "DIR", only: ["sh"] },
  "--env": { value: "K=V", only: ["sh"] },
};
const SHORT: Record<string, string> = { "-v": "--verbose", "-h": "--help", "-V": "--version" };

const MAX_PARALLEL = 10_000;

/** Options for {@linkcode parseArgs}. */
export interface ParseArgsOptions {
  /** Environment lookups (default Deno.env.get); reads FUSION_INVENTORY. */
  env?: (name: string) => string | undefined;
}

/** Parses `fusion`'s arguments. Throws UsageError. */
export function parseArgs(argv: readonly string[], options: ParseArgsOptions = {}): ParsedArgs {
  const env = options.env ?? ((n: string) => Deno.env.get(n));
  const seen = new Map<string, string[]>();
  const positionals: string[] = [];
  let dashDash = -1;
  let command: CommandName | "help" | undefined;

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--") {
      dashDash = positionals.length;
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!isOption(word)) {
      if (command === undefined) {
        if (word === "help") command = "help";
        else if ((COMMANDS as readonly string[]).includes(word)) command = word as CommandName;
        else throw new UsageError(`unknown command "${word}" (commands: ${COMMANDS.join(", ")})`);
      } else positionals.push(word);
      continue;
    }
    const eq = word.startsWith("--") ? word.indexOf("=") : -1;
    const raw = eq >= 0 ? word.slice(0, eq) : word;
    const name = SHORT[raw] ?? raw;
    const spec = OPTIONS[name];
    const cmd = command === "help" ? "" : command ?? "";
    if (!spec) throw new UsageError(`unknown option ${raw}`, cmd);
    let value: string;
    if (spec.value) {
      if (eq >= 0) value = word.slice(eq + 1);
      else {
        const next = argv[i + 1];
        if (next === undefined || (isOption(next) && next !== "-")) {
          throw new UsageError(`${name} needs a value (${name} ${spec.value})`, cmd);
        }
        value = next;
        i++;
      }
    } else {
      if (eq >= 0) throw new UsageError(`${name} takes no value`, cmd);
      value = "";
    }
    seen.set(name, [...(seen.get(name) ?? []), value]);
  }

  const cmd = command === "help" ? "" : command ?? "";
  for (const [name, values] of seen) {
    const spec = OPTIONS[name]!;
    if (spec.only && command !== undefined && command !== "help" && !spec.only.includes(command)) {
      throw new UsageError(`${name} is an option of fusion ${spec.only.join("/")} only`, cmd);
    }
    if (values.length > 1 && name !== "--env" && name !== "--verbose") {
      throw new UsageError(`${name} given more than once`, cmd);
    }
  }
  const one = (name: string) => seen.get(name)?.[0];
  const options_ = globalOptions(one, seen, env, cmd);

  if (seen.has("--version")) return { command: { name: "version" }, options: options_ };
  if (command === "help") {
    if (positionals.length > 1) throw new UsageError("help takes one command name");
    const topic = positionals[0];
    if (topic !== undefined && !(COMMANDS as readonly string[]).includes(topic)) {
      throw new UsageError(`unknown command "${topic}" (commands: ${COMMANDS.join(", ")})`);
    }
    return {
      command: topic === undefined
        ? { name: "help" }
        : { name: "help", topic: topic as CommandName },
      options: options_,
    };
  }
  if (seen.has("--help")) {
    return {
      command: command === undefined ? { name: "help" } : { name: "help", topic: command },
      options: options_,
    };
  }
  if (command === undefined) throw new UsageError("no command given");
  return { command: commandOf(command, positionals, dashDash, seen), options: options_ };
}

// "-1" and "-0.5" are values (JSON arguments), not options; so is "-".
function isOption(word: string): boolean {
  return word.startsWith("-") && word !== "-" && !/^-[0-9.]/.test(word);
}

function intOption(name: string, text: string, min: number, max: number, cmd: string): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${name} must be a whole number ${min}-${max}, not "${text}"`, cmd);
  }
  return Number(text);
}

function globalOptions(
  one: (name: string) => string | undefined,
  seen: Map<string, string[]>,
  env: (name: string) => string | undefined,
  cmd: string,
): GlobalOptions {
  if (seen.has("--json") && seen.has("--ndjson")) {
    throw new UsageError("--json and --ndjson exclude each other", cmd);
  }
  const o: GlobalOptions = {
    parallel: 20,
    output: seen.has("--json") ? "json" : seen.has("--ndjson") ? "ndjson" : "text",
    verbose: seen.has("--verbose"),
    installDeno: seen.has("--install-deno"),
  };
  const parallel = one("--parallel");
  if (parallel !== undefined) o.parallel = intOption("--parallel", parallel, 1, MAX_PARALLEL, cmd);
  const timeout = one("--timeout");
  if (timeout !== undefined) o.timeoutMs = intOption("--timeout", timeout, 1, 2 ** 31 - 1, cmd);
  const port = one("--registry-port");
  if (port !== undefined) o.registryPort = intOption("--registry-port", port, 0, 65535, cmd);
  const sshConfig = one("--ssh-config");
  if (sshConfig !== undefined) {
    if (sshConfig === "") throw new UsageError("--ssh-config needs a file name", cmd);
    o.sshConfig = sshConfig;
  }
  const inventory = one("--inventory") ?? (env("FUSION_INVENTORY") || undefined);
  if (inventory !== undefined) {
    if (inventory === "") throw new UsageError("--inventory needs a file name", cmd);
    o.inventory = inventory;
  }
  const hostKeys = one("--host-keys");
  if (hostKeys !== undefined) {
    if (!["strict", "accept-new", "insecure"].includes(hostKeys)) {
      throw new UsageError(
        `--host-keys must be strict, accept-new or insecure, not "${hostKeys}"`,
        cmd,
      );
    }
    o.hostKeys = hostKeys as HostKeyPolicy;
  }
  return o;
}

function commandOf(
  name: CommandName,
  pos: string[],
  dashDash: number,
  seen: Map<string, string[]>,
): Command {
  const need = (n: number, usage: string) => {
    if (pos.length < n) throw new UsageError(`missing arguments: fusion ${usage}`, name);
  };
  const exactly = (n: number, usage: string) => {
    need(n, usage);
    if (pos.length > n) {
      throw new UsageError(`unexpected argument "${pos[n]}": fusion ${usage}`, name);
    }
  };
  switch (name) {
    case "run": {
      need(3, "run <hosts> <module> <export> [args…]");
      const [hosts, module, fn, ...rest] = pos as [string, string, string, ...string[]];
      if (fn === "") throw new UsageError("the export name is empty", name);
      const args = rest.map((text, i) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new UsageError(
            `argument ${i + 1} is not JSON: ${clip(text)} (quote strings: '"${clip(text)}"')`,
            name,
          );
        }
      });
      return { name, hosts, module, fn, args };
    }
    case "eval": {
      need(2, "eval <hosts> '<expression>'");
      const expression = pos.slice(1).join(" ");
      if (expression.trim() === "") throw new UsageError("the expression is empty", name);
      return { name, hosts: pos[0]!, expression };
    }
    case "sh": {
      need(2, "sh <hosts> -- <command…>");
      if (dashDash === 0) {
        throw new UsageError("hosts go before --: fusion sh <hosts> -- <command…>", name);
      }
      const command = pos.slice(1).join(" ");
      if (command.trim() === "") throw new UsageError("the command is empty", name);
      const env: Record<string, string> = {};
      for (const kv of seen.get("--env") ?? []) {
        const eq = kv.indexOf("=");
        const k = eq > 0 ? kv.slice(0, eq) : "";
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) {
          throw new UsageError(`--env wants NAME=value, not "${clip(kv)}"`, name);
        }
        env[k] = kv.slice(eq + 1);
      }
      const cwd = seen.get("--cwd")?.[0];
      if (cwd === "") throw new UsageError("--cwd needs a directory", name);
      return { name, hosts: pos[0]!, command, env, ...(cwd !== undefined ? { cwd } : {}) };
    }
    case "ping":
    case "clean":
      exactly(1, `${name} <hosts>`);
      return { name, hosts: pos[0]! };
    case "names":
    case "registry":
    case "demo":
      exactly(0, name);
      return { name };
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
