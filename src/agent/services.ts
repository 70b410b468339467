import type { Node } from "../node.ts";
import { registerExecutor } from "./executor.ts";

/** Registers the services every agent offers its hub. */
export function registerAgentServices(node: Node): void {
  node.serve("ping", () => "pong");
  node.serve("info", () => ({
    node: node.name,
    pid: Deno.pid,
    deno: Deno.version.deno,
    os: Deno.build.os,
    arch: Deno.build.arch,
    hostname: Deno.hostname(),
    cwd: Deno.cwd(),
  }));
  registerExecutor(node);
}
