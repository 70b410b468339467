/**
 * Helpers for the bundling tests: fixture copies, running a bundle in a clean
 * Deno process, and a loopback HTTP server for remote modules.
 * @module
 */
import { dirname, join } from "node:path";

const FIXTURES = new URL("../../fixtures/code/", import.meta.url);

/** Copies fixture `name` (files end in `.in`, dropped here) into `dest`, or a new temp folder. */
export async function copyFixture(name: string, dest?: string): Promise<string> {
  const to = dest ?? await Deno.makeTempDir({ prefix: `fusion-code-${name}-` });
  const from = new URL(`${name}/`, FIXTURES).pathname;
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const src = join(dir, e.name);
      if (e.isDirectory) await walk(src);
      else if (e.name.endsWith(".in")) {
        const out = join(to, src.slice(from.length)).slice(0, -3);
        await Deno.mkdir(dirname(out), { recursive: true });
        await Deno.copyFile(src, out);
      }
    }
  };
  await walk(from);
  return to;
}

/** What calling an export of a bundle in a clean process gave. */
export type CallResult =
  | { ok: true; value: unknown }
  | { ok: false; error: { name: string; constructor: string; message: string; stack: string } };

const RUNNER = `
const [file, fn, args] = Deno.args;
const mod = await import(new URL(file, "file://" + Deno.cwd() + "/").href);
try {
  const value = await mod[fn](...JSON.parse(args));
  console.log(JSON.stringify({ ok: true, value }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: {
    name: e.name, constructor: e.constructor.name, message: e.message, stack: String(e.stack),
  } }));
}
`;

/**
 * Writes `code` to an empty temp folder and calls export `fn` in a separate
 * `deno run --no-config --no-remote --no-npm` with an empty DENO_DIR, so the
 * bundle must be self-contained: no node_modules, no cache, no import map.
 */
export async function callBundle(
  code: Uint8Array,
  fn: string,
  args: unknown[] = [],
): Promise<CallResult> {
  const dir = await Deno.makeTempDir({ prefix: "fusion-run-" });
  try {
    await Deno.writeFile(join(dir, "bundle.js"), code);
    await Deno.writeTextFile(join(dir, "runner.js"), RUNNER);
    await Deno.mkdir(join(dir, "deno_dir"));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        "--no-remote",
        "--no-npm",
        "--allow-all",
        "runner.js",
        "./bundle.js",
        fn,
        JSON.stringify(args),
      ],
      cwd: dir,
      env: { DENO_DIR: join(dir, "deno_dir"), NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    if (!out.success || !stdout) {
      throw new Error(`bundle did not run (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    }
    return JSON.parse(stdout.split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Calls `fn` and returns its value, failing on a thrown error. */
export async function callValue(
  code: Uint8Array,
  fn: string,
  args: unknown[] = [],
): Promise<unknown> {
  const r = await callBundle(code, fn, args);
  if (!r.ok) throw new Error(`${fn} threw ${r.error.name}: ${r.error.message}\n${r.error.stack}`);
  return r.value;
}

/** A loopback HTTP server for files under `root`, serving TypeScript and JSON with proper types. */
export function serveDir(
  root: string,
): { base: string; close: () => Promise<void>; hits: string[] } {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    hits.push(path);
    if (path.includes("..")) return new Response("no", { status: 400 });
    try {
      const body = await Deno.readFile(join(root, path));
      const type = path.endsWith(".json") ? "application/json" : "application/typescript";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    hits,
    close: () => server.shutdown(),
  };
}

/** Runs a command to completion and fails with its stderr when it fails. */
export async function mustRun(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.env ? { env: options.env } : {}),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

/** Removes a temp folder, ignoring a folder already gone. */
export async function removeDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
