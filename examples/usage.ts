/**
 * The README's usage section, runnable: `deno run -A examples/usage.ts user@host[:port]`.
 */
import { connect, Node, pushModule, run, runFun, spawn } from "../mod.ts";

const host = Deno.args[0] ?? "deploy@10.0.1.5";

await using node = await Node.start({ name: "app" }); // app@localhost
await using remote = await connect(host, { node });

// A self-contained function, shipped by its source:
const info = await runFun(remote, () => ({ deno: Deno.version.deno, os: Deno.build.os }));
const sum = await runFun(remote, (a: number, b: number) => a + b, [1, 2]); // 3

// A module and everything it imports (relative files, npm:, jsr:, import maps),
// bundled, pushed once (content-addressed), then called:
const health = await run(remote, new URL("./health.ts", import.meta.url), "check", []);
const { hash, bytes } = await pushModule(remote, new URL("./worker.ts", import.meta.url));

// An actor on the server, talking to a local inbox:
const inbox = node.inbox();
const worker = await spawn(remote, new URL("./worker.ts", import.meta.url), "loop", [inbox.self]);
node.send(worker, { job: 21 });
const reply = await inbox.receive({ timeoutMs: 5000 });
node.send(worker, "stop");

console.log(JSON.stringify({ info, sum, health, pushed: { hash, bytes }, reply }));
