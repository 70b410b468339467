// A separate process hosting the registry, for tests that kill it hard.
import { keepRegistered } from "../../../src/registry/mod.ts";

const cookie = new TextEncoder().encode(Deno.args[0]!);
const reg = await keepRegistered({
  name: "child@localhost",
  port: 5999,
  credentials: { kind: "cookie", cookie },
  registryPort: 0,
});
console.log(reg.registryPort);
// Lives until killed.
setInterval(() => {}, 60_000);
