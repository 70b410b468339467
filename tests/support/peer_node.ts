/**
 * A second node in its own process, for multi-process tests. Reads
 * { name, cookie, registryPort } as one JSON line on stdin, registers an
 * "echo" actor that answers { n } to each { from, n }, prints "ready <pid>",
 * and runs until stdin closes.
 */
import { Node } from "../../src/node.ts";
import type { Pid } from "../../src/wire/pid.ts";

const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
let line = "";
while (!line.includes("\n")) {
  const { value, done } = await reader.read();
  if (done) Deno.exit(2);
  line += value;
}
const config = JSON.parse(line.slice(0, line.indexOf("\n")));
const node = await Node.start({
  name: config.name,
  cookie: config.cookie,
  registryPort: config.registryPort,
});
const echo = node.spawn(async (ctx) => {
  while (true) {
    const m = await ctx.receive<{ from: Pid; n: number }>();
    ctx.send(m.from, { n: m.n });
  }
});
node.register("echo", echo);
console.log(`ready ${echo.id}`);
while (!(await reader.read()).done) { /* wait for stdin to close */ }
await node.close();
