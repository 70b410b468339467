/** Small helpers the demo's health check imports: pushed along with it. */

/** The value of one "Key:   value kB" line of /proc/meminfo, in MiB. */
export function meminfoMb(meminfo: string, key: string): number | undefined {
  const line = meminfo.split("\n").find((l) => l.startsWith(`${key}:`));
  const kb = Number(line?.split(/\s+/)[1]);
  return Number.isFinite(kb) ? Math.floor(kb / 1024) : undefined;
}

/** Bytes as MiB, rounded down. */
export function bytesToMb(bytes: number): number {
  return Math.floor(bytes / 1024 / 1024);
}
