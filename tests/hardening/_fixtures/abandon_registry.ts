/**
 * Opens `count` connections to a registry and abandons them: half send nothing, half
 * send part of a request. Prints "held <n>" once all are open, then waits to be killed.
 * Usage: deno run -A abandon_registry.ts <registryPort> <count>
 * @module
 */
import { createConnection, type Socket } from "node:net";

const port = Number(Deno.args[0]);
const count = Number(Deno.args[1]);
const partial = new Uint8Array([0, 0, 0, 40, 0x83, 0x68]); // a 40-byte frame, 2 bytes of it
const sockets: Socket[] = [];
let open = 0;
let next = 0;
const one = () =>
  new Promise<void>((resolve) => {
    const i = next++;
    const s = createConnection({ host: "127.0.0.1", port });
    s.on("error", () => {});
    s.on("close", () => open--);
    s.once("connect", () => {
      open++;
      if (i % 2) s.write(partial);
      resolve();
    });
    sockets.push(s);
  });
const t0 = performance.now();
while (next < count) await Promise.all(Array.from({ length: Math.min(200, count - next) }, one));
console.log(`held ${open} connections, opened in ${(performance.now() - t0).toFixed(0)} ms`);
// Nothing more: the registry must drop them by itself. Runs until killed.
setInterval(() => {}, 60_000);
