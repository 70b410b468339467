/**
 * `fusion --help` and `fusion <command> --help` texts.
 * @module
 */
import type { CommandName } from "./args.ts";

const HOSTS = `Hosts: a comma list of user@host[:port], ssh config aliases, inventory host
names and @group (from --inventory; @all is every inventory host).`;

const SHARED = `Options every command takes:
  --inventory FILE      hosts and groups (JSON or TOML; also FUSION_INVENTORY)
  --ssh-config FILE     read this ssh config instead of ~/.ssh/config (like ssh -F)
  --parallel N          hosts worked on at once (default 20)
  --timeout MS          limit for each host's connect, and for its call
  --host-keys POLICY    strict (default), accept-new or insecure, for hosts that set none
  --install-deno        upload Deno to servers that have none
  --registry-port PORT  the local registry (default FUSION_REGISTRY_PORT, else 4370)
  --json                print one JSON array of { host, ok, value | error, ms }
  --ndjson              print one such object per line as hosts finish
  -v, --verbose         protocol and SSH logs; stack traces
  -h, --help            this help`;

const EXIT = `Exit codes: 0 every host succeeded, 1 a host failed, 2 usage or input error,
130 interrupted (Ctrl-C disconnects every host first).`;

const USAGE: Record<CommandName, string> = {
  run: `fusion run <hosts> <module> <export> [args…]

Pushes <module> (a path or URL; with everything it imports) to each host and
calls its export <export> with args. Each arg is a JSON value: 42, true, null,
'"text"', '{"a":1}', '[1,2]'. A word that is not JSON is refused: quote strings.

  fusion run web-01,web-02 ./health.ts check
  fusion run @web ./deploy.ts release '"v1.2.3"' '{"dryRun":true}'`,
  eval: `fusion eval <hosts> '<expression>'

Evaluates a JavaScript expression on each host (awaited when it is a promise)
and prints its value. Statements work too when they return the value:
'const r = await fetch(url); return r.status'.

  fusion eval @all 'Deno.hostname()'
  fusion eval web-01 'Deno.readTextFile("/etc/os-release")'`,
  sh: `fusion sh <hosts> [--cwd DIR] [--env K=V]… -- <command…>

Runs a shell command (/bin/sh -c) on each host through its agent and prints
its exit code, stdout and stderr. A non-zero exit code counts as that host
failing. The words after -- are joined with spaces.

  --cwd DIR   working directory on the hosts
  --env K=V   an environment variable for the command (repeatable)

  fusion sh @web -- uptime
  fusion sh web-01 --cwd /srv/app --env MODE=prod -- ./migrate.sh --check`,
  ping: `fusion ping <hosts>

Connects to each host (SSH, agent start, handshake), then measures a round
trip to its agent.

  fusion ping @all`,
  clean: `fusion clean <hosts>

Removes Fusion's cache (~/.cache/fusion: the agent and pushed modules) on each
host, over SSH only: no agent is started.

  fusion clean @all`,
  names: `fusion names

Lists the nodes registered with the local registry, like epmd -names. The
registry answers only a proof made with its nodes' cookie (FUSION_COOKIE, else
~/.fusion/cookie).`,
  registry: `fusion registry [--registry-port PORT]

Runs the registry (the port mapper) in the foreground until Ctrl-C. Port 0
lets the kernel choose one; the port is printed.`,
  demo: `fusion demo

Starts an embedded SSH server in this process and runs the README's story
against it: connect, runFun, run a pushed module, spawn an actor, disconnect.
Needs nothing but Deno.`,
};

/** The help text for `command`, or the overview. */
export function helpText(command?: CommandName): string {
  if (command) {
    const needsHosts = ["run", "eval", "sh", "ping", "clean"].includes(command);
    return [USAGE[command], ...(needsHosts ? [HOSTS] : []), SHARED, EXIT].join("\n\n") + "\n";
  }
  return `fusion: run code on many servers over SSH (a Deno agent, no install needed)

Usage: fusion <command> [options] …

Commands:
  run <hosts> <module> <export> [args…]   call a module's export on each host
  eval <hosts> '<expression>'             evaluate a JavaScript expression on each host
  sh <hosts> -- <command…>                run a shell command on each host
  ping <hosts>                            connect, handshake and time a round trip
  clean <hosts>                           remove Fusion's cache on the hosts
  names                                   the local registry's nodes (like epmd -names)
  registry                                run the registry in the foreground
  demo                                    the README's story against an embedded SSH server

${HOSTS}

${SHARED}

${EXIT}

fusion <command> --help tells more. Docs: docs/CLI.md.
`;
}
