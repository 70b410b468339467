/** The original's RemoteHealth, for Deno: hostname, Deno version and memory of the server. */
export async function check(): Promise<
  { hostname: string; denoVersion: string; memoryMb: number }
> {
  const out = await new Deno.Command("hostname").output();
  const meminfo = await Deno.readTextFile("/proc/meminfo");
  const total = meminfo.split("\n").find((l) => l.startsWith("MemTotal"))!;
  return {
    hostname: new TextDecoder().decode(out.stdout).trim(),
    denoVersion: Deno.version.deno,
    memoryMb: Math.floor(Number(total.split(/\s+/)[1]) / 1024),
  };
}
