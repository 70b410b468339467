/** Exports the isolate tests call in a sandbox on the server. */
let calls = 0;

/** Counts calls in this process: state a pooled sandbox keeps. */
export function count(): number {
  return ++calls;
}

/** The process the call ran in. */
export function pid(): number {
  return Deno.pid;
}

/** Length of a file's text. */
export function readFile(path: string): number {
  return Deno.readTextFileSync(path).length;
}

/** Opens a TCP connection and closes it; true when it connected. */
export async function dial(port: number): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.close();
  return true;
}

/** Never returns: a CPU-bound loop. */
export function spin(): never {
  while (true) { /* busy */ }
}

/** Adds after a delay. */
export async function slowAdd(a: number, b: number, ms: number): Promise<[number, number]> {
  await new Promise((r) => setTimeout(r, ms));
  return [a + b, Deno.pid];
}

/** Prints a line (through console.log, which must not reach the sandbox's stdout channel). */
export function say(text: string): string {
  console.log(text);
  return text;
}
