/**
 * Two nodes on this machine, in two processes: "ping" starts (hosting the
 * registry if none runs), starts "pong" as a child process, finds it through
 * the registry, and trades messages with an actor there.
 *
 *   deno run -A examples/two_nodes.ts
 */
import { Node } from "../mod.ts";
import type { Pid } from "../mod.ts";

if (Deno.args[0] === "pong") {
  await using node = await Node.start({ name: "pong" });
  node.register(
    "pong",
    node.spawn(async (ctx) => {
      while (true) {
        const { from, n } = await ctx.receive<{ from: Pid; n: number }>();
        ctx.send(from, { pong: n, on: ctx.node });
      }
    }),
  );
  console.log("ready");
  // Run until the parent closes our stdin.
  for await (const _ of Deno.stdin.readable) { /* drain */ }
} else {
  await using node = await Node.start({ name: "ping" });
  console.log(`started ${node.name} (registry on 127.0.0.1:${node.registryPort})`);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "pong"],
    stdin: "piped",
    stdout: "piped",
    env: { FUSION_REGISTRY_PORT: String(node.registryPort) },
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!((await lines.read()).value ?? "").includes("ready")) { /* wait */ }
  console.log("started pong@localhost in a second process");

  using inbox = node.inbox();
  const t0 = performance.now();
  for (let n = 1; n <= 3; n++) {
    node.send(["pong", "pong@localhost"], { from: inbox.self, n });
    const reply = await inbox.receive<{ pong: number; on: string }>({ timeoutMs: 5000 });
    console.log(`ping ${n} -> pong ${reply.pong} from ${reply.on}`);
  }
  const N = 10_000;
  for (let n = 0; n < N; n++) node.send(["pong", "pong@localhost"], { from: inbox.self, n });
  for (let n = 0; n < N; n++) await inbox.receive();
  const ms = performance.now() - t0;
  console.log(`${N} round trips in ${ms.toFixed(0)} ms; connected to ${node.nodes().join(", ")}`);
  await child.stdin.close();
  await lines.cancel();
  await child.status;
}
