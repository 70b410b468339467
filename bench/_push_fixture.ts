/** A module of 20 local files and an npm dependency, made in a temp dir for the push bench. */
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The fixture on disk. */
export interface PushFixture {
  /** The entry module's URL. */
  entry: URL;
  /** Rewrites one file with new content, so the bundle's hash changes. */
  touch(): Promise<void>;
  remove(): Promise<void>;
}

const FILES = 20;

function lib(i: number, nonce: string): string {
  const next = i + 1 < FILES ? `import { f${i + 1} } from "./f${i + 1}.ts";\n` : "";
  const call = i + 1 < FILES ? `f${i + 1}(n - 1)` : "0";
  const body = Array.from(
    { length: 20 },
    (_, k) => `  if (n === ${k}) return { i: ${i}, k: ${k}, label: "file ${i} case ${k}" };`,
  ).join("\n");
  return `${next}export const NONCE_${i} = "${nonce}";
export function table${i}(n: number): { i: number; k: number; label: string } | undefined {
${body}
  return undefined;
}
export function f${i}(n: number): number {
  if (n < 0) return NONCE_${i}.length; // keeps the nonce in the bundle
  return n <= 0 ? ${i} : 1 + ${call};
}
`;
}

/** Writes the fixture: main.ts (importing npm:ms) and f1.ts … f19.ts chained. */
export async function makePushFixture(): Promise<PushFixture> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-bench-push-" });
  const write = (name: string, text: string) => Deno.writeTextFile(join(dir, name), text);
  await write(
    "main.ts",
    `import ms from "npm:ms@2.1.3";\nimport { f1 } from "./f1.ts";\n` +
      `export function main(): string { return ms(f1(3) * 1000); }\n`,
  );
  for (let i = 1; i < FILES; i++) await write(`f${i}.ts`, lib(i, "0"));
  let n = 0;
  return {
    entry: pathToFileURL(join(dir, "main.ts")),
    touch: () => write("f1.ts", lib(1, `${Date.now()}-${n++}`)),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
