import assert from "node:assert/strict";
import { parseArgs, UsageError } from "../../../src/cli/args.ts";

const noEnv = { env: () => undefined };
const parse = (argv: string[]) => parseArgs(argv, noEnv);
const usage = (argv: string[], message: RegExp) =>
  assert.throws(
    () => parse(argv),
    (e: unknown) => e instanceof UsageError && message.test(e.message),
  );

Deno.test("parseArgs reads run's hosts, module, export and JSON args", () => {
  const { command, options } = parse([
    "run",
    "web-01,@db",
    "./health.ts",
    "check",
    "42",
    '"text"',
    '{"a":[1,null]}',
    "-1",
    "true",
  ]);
  assert.deepEqual(command, {
    name: "run",
    hosts: "web-01,@db",
    module: "./health.ts",
    fn: "check",
    args: [42, "text", { a: [1, null] }, -1, true],
  });
  assert.deepEqual(options, { parallel: 20, output: "text", verbose: false, installDeno: false });
});

Deno.test("parseArgs refuses an argument that is not JSON, naming it", () => {
  usage(["run", "h", "./m.ts", "f", "hello"], /argument 1 is not JSON: hello .*'"hello"'/);
  usage(["run", "h", "./m.ts", "f", "1", "{a:1}"], /argument 2 is not JSON/);
});

Deno.test("parseArgs takes shared options before or after the command, in both forms", () => {
  const { options } = parseArgs([
    "--parallel=5",
    "ping",
    "h",
    "--timeout",
    "2500",
    "--json",
    "-v",
    "--ssh-config",
    "cfg",
    "--inventory=inv.toml",
    "--install-deno",
    "--registry-port",
    "0",
    "--host-keys",
    "accept-new",
  ], noEnv);
  assert.deepEqual(options, {
    parallel: 5,
    timeoutMs: 2500,
    output: "json",
    verbose: true,
    sshConfig: "cfg",
    inventory: "inv.toml",
    installDeno: true,
    registryPort: 0,
    hostKeys: "accept-new",
  });
});

Deno.test("parseArgs reads the inventory from FUSION_INVENTORY when no option names one", () => {
  const env = (n: string) => n === "FUSION_INVENTORY" ? "/etc/fusion.toml" : undefined;
  assert.equal(parseArgs(["ping", "h"], { env }).options.inventory, "/etc/fusion.toml");
  assert.equal(parseArgs(["ping", "h", "--inventory", "x"], { env }).options.inventory, "x");
});

Deno.test("parseArgs joins sh's words after -- and reads --cwd and repeated --env", () => {
  const { command } = parse([
    "sh",
    "@web",
    "--cwd",
    "/srv",
    "--env",
    "A=1",
    "--env",
    "B=x=y",
    "--env",
    "EMPTY=",
    "--",
    "ls",
    "-la",
    "--json",
  ]);
  assert.deepEqual(command, {
    name: "sh",
    hosts: "@web",
    command: "ls -la --json",
    cwd: "/srv",
    env: { A: "1", B: "x=y", EMPTY: "" },
  });
});

Deno.test("parseArgs refuses sh without a command, or hosts after --", () => {
  usage(["sh", "h"], /missing arguments/);
  usage(["sh", "h", "--"], /missing arguments/);
  usage(["sh", "--", "h", "ls"], /hosts go before --/);
  usage(["sh", "h", "--env", "NOEQUALS", "--", "x"], /--env wants NAME=value/);
  usage(["sh", "h", "--env", "1A=2", "--", "x"], /--env wants NAME=value/);
});

Deno.test("parseArgs joins eval's words into one expression", () => {
  assert.deepEqual(parse(["eval", "h", "1", "+", "2"]).command, {
    name: "eval",
    hosts: "h",
    expression: "1 + 2",
  });
  usage(["eval", "h", " "], /expression is empty/);
});

Deno.test("parseArgs gives help for the overview, a command, and help <command>", () => {
  assert.deepEqual(parse(["--help"]).command, { name: "help" });
  assert.deepEqual(parse(["-h", "run"]).command, { name: "help", topic: "run" });
  assert.deepEqual(parse(["sh", "--help"]).command, { name: "help", topic: "sh" });
  assert.deepEqual(parse(["help", "ping"]).command, { name: "help", topic: "ping" });
  assert.deepEqual(parse(["--version"]).command, { name: "version" });
});

Deno.test("parseArgs says what is wrong in one line", () => {
  usage([], /no command given/);
  usage(["launch"], /unknown command "launch"/);
  usage(["help", "launch"], /unknown command "launch"/);
  usage(["ping", "h", "--nope"], /unknown option --nope/);
  usage(["ping", "h", "-x"], /unknown option -x/);
  usage(["ping", "h", "--parallel"], /--parallel needs a value/);
  usage(["ping", "h", "--parallel", "--json"], /--parallel needs a value/);
  usage(["ping", "h", "--parallel", "0"], /--parallel must be a whole number 1-10000/);
  usage(["ping", "h", "--parallel", "2.5"], /--parallel must be a whole number/);
  usage(["ping", "h", "--timeout", "-5"], /--timeout needs a value|--timeout must be/);
  usage(
    ["ping", "h", "--registry-port", "70000"],
    /--registry-port must be a whole number 0-65535/,
  );
  usage(["ping", "h", "--json", "--ndjson"], /exclude each other/);
  usage(["ping", "h", "--json=yes"], /--json takes no value/);
  usage(["ping", "h", "--timeout", "1", "--timeout", "2"], /given more than once/);
  usage(
    ["ping", "h", "--host-keys", "trusting"],
    /--host-keys must be strict, accept-new or insecure/,
  );
  usage(["ping", "h", "--cwd", "/"], /--cwd is an option of fusion sh only/);
  usage(["ping"], /missing arguments: fusion ping <hosts>/);
  usage(["ping", "a", "b"], /unexpected argument "b"/);
  usage(["names", "extra"], /unexpected argument "extra"/);
  usage(["run", "h", "m.ts"], /missing arguments/);
  for (const argv of [["launch"], ["ping", "h", "--nope"], ["run", "h", "m", "f", "x"]]) {
    assert.throws(() => parse(argv), (e: unknown) => !(e as Error).message.includes("\n"));
  }
});

Deno.test("UsageError remembers the command for its --help hint", () => {
  assert.throws(
    () => parse(["clean", "h", "--parallel", "x"]),
    (e: unknown) => e instanceof UsageError && e.command === "clean",
  );
});
