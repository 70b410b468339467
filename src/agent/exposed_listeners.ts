/**
 * Which of some ports something on this server listens on beyond loopback. sshd
 * with `GatewayPorts yes` binds the reverse tunnels on every interface whatever
 * address the client asked for, and the SSH reply carries only the port, so the
 * agent looks at Linux's /proc/net/tcp and tcp6 and tells its hub. Empty where
 * there is no /proc (not Linux). Deno APIs only: this runs at agent start.
 * @module
 */

/** A listening TCP socket bound beyond loopback. */
export interface ExposedListener {
  /** The bound address: "0.0.0.0", "::", "10.0.0.5", … */
  address: string;
  /** The port. */
  port: number;
}

/** Listening sockets on `ports` bound beyond loopback, from this network namespace's /proc. */
export async function exposedListeners(ports: readonly number[]): Promise<ExposedListener[]> {
  const wanted = ports.filter((p) => p > 0);
  if (wanted.length === 0) return [];
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  const [v4, v6] = await Promise.all([read("/proc/net/tcp"), read("/proc/net/tcp6")]);
  return [...exposedInProcNet(v4, wanted), ...exposedInProcNet(v6, wanted)];
}

const LISTEN = "0A";
// /proc prints each 32-bit word of an address in host byte order.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The non-loopback LISTEN entries on `ports` in the text of /proc/net/tcp or tcp6. */
export function exposedInProcNet(text: string, ports: readonly number[]): ExposedListener[] {
  const out: ExposedListener[] = [];
  const hexPorts = new Map(ports.map((p) => [p.toString(16).toUpperCase().padStart(4, "0"), p]));
  for (const line of text.split("\n")) {
    if (!line.includes(" 0A ")) continue; // most lines are connections, not listeners
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (f[3] !== LISTEN || !local) continue;
    const colon = local.indexOf(":");
    const port = hexPorts.get(local.slice(colon + 1));
    if (port === undefined) continue;
    const bytes = addressBytes(local.slice(0, colon));
    if (!bytes || isLoopback(bytes)) continue;
    out.push({ address: formatAddress(bytes), port });
  }
  return out;
}

function addressBytes(hex: string): number[] | undefined {
  if (!/^[0-9A-Fa-f]{8}([0-9A-Fa-f]{24})?$/.test(hex)) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(LITTLE_ENDIAN ? word.reverse() : word));
  }
  return bytes;
}

function isLoopback(b: number[]): boolean {
  if (b.length === 4) return b[0] === 127;
  const zeros = (n: number) => b.slice(0, n).every((x) => x === 0);
  // ::1, and ::ffff:127.x.x.x
  if (zeros(15) && b[15] === 1) return true;
  return zeros(10) && b[10] === 0xff && b[11] === 0xff && b[12] === 127;
}

function formatAddress(b: number[]): string {
  if (b.length === 4) return b.join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // The longest run of zero groups becomes "::".
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (bestLen < 2) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}
