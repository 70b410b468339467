/**
 * A local process that connects to a server and is in the middle of a call there when
 * the test kills (or stops) it. Reads { target, tickTimeoutMs, cookie } as one JSON line
 * on stdin; prints { agentPid, sleepPid } as one JSON line once the call is running.
 * @module
 */
import { Node } from "../../../src/node.ts";
import { NodeManager } from "../../../src/remote/mod.ts";

const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
let line = "";
while (!line.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) Deno.exit(2);
  line += value;
}
const config = JSON.parse(line.slice(0, line.indexOf("\n")));
const node = await Node.start({
  name: "doomed-hub",
  cookie: config.cookie,
  registryPort: 0,
  tickTimeoutMs: config.tickTimeoutMs,
});
const remote = await new NodeManager(config.target, {
  node,
  tickTimeoutMs: config.tickTimeoutMs,
  output: () => {},
}).connect();
const { pid: agentPid } = await remote.info();
// User code that started a process of its own, and a call that is still running.
const sleepPid = await remote.runFun(() =>
  new Deno.Command("sleep", { args: ["600"] }).spawn().pid
);
remote.runFun(() => new Promise(() => {}), [], { timeoutMs: 600_000 }).catch(() => {});
console.log(JSON.stringify({ agentPid, sleepPid }));
await new Promise(() => setInterval(() => {}, 60_000));
