/**
 * A separate local process for the "killed local process" tests: reads
 * `{ target, tickTimeoutMs, transport }` as JSON on stdin, connects, starts a
 * `sleep` on the server from user code, prints one JSON line
 * `{ name, agentPid, sleepPid }` and waits to be killed.
 * @module
 */
import { Node } from "../../../src/node.ts";
import { connect } from "../../../src/remote/mod.ts";
import type { Target } from "../../../src/ssh/mod.ts";

const input = JSON.parse(await new Response(Deno.stdin.readable).text()) as {
  target: Target;
  tickTimeoutMs: number;
  transport: "auto" | "stdio";
};
const cookie = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16))
  .join("");
const node = await Node.start({
  name: `child-${Deno.pid}`,
  cookie,
  registryPort: 0,
  tickTimeoutMs: input.tickTimeoutMs,
});
const remote = await connect(input.target, {
  node,
  tickTimeoutMs: input.tickTimeoutMs,
  transport: input.transport,
});
const info = await remote.info();
const sleepPid = await remote.runFun(() =>
  new Deno.Command("sleep", { args: ["300"], stdin: "null", stdout: "null", stderr: "null" })
    .spawn().pid
);
console.log(JSON.stringify({ name: remote.name, agentPid: info.pid, sleepPid }));
setInterval(() => {}, 60_000);
