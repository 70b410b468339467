/**
 * The README's RemoteHealth: the server's hostname, Deno version and memory.
 * `run(remote, new URL("./health.ts", import.meta.url), "check")` pushes this
 * file and ./format.ts, which it imports.
 */
import { bytesToMb, meminfoMb } from "./format.ts";

/** What `check` reports. */
export interface Health {
  hostname: string;
  denoVersion: string;
  memoryMb: number;
  availableMb: number;
}

/** Hostname, Deno version and memory of the machine it runs on (/proc/meminfo when present). */
export async function check(): Promise<Health> {
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memory = Deno.systemMemoryInfo();
  return {
    hostname: Deno.hostname(),
    denoVersion: Deno.version.deno,
    memoryMb: meminfoMb(meminfo, "MemTotal") ?? bytesToMb(memory.total),
    availableMb: meminfoMb(meminfo, "MemAvailable") ?? bytesToMb(memory.available),
  };
}
