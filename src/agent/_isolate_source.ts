/**
 * The source of a sandbox process: a data: URL module that imports the pushed
 * bundle statically (a static import needs no read permission, a dynamic one
 * would) and answers calls framed on stdin/stdout.
 * @module
 */

/** Four bytes that start every frame a sandbox writes ("FUS1"): stray stdout writes are skipped. */
export const FRAME_MAGIC: readonly number[] = [0x46, 0x55, 0x53, 0x31];

// Evaluated before the user's module (ES modules run in import order): it
// takes console.log off stdout and reports a module that throws while loading.
const SETUP = `
import { serialize, deserialize } from "node:v8";
const MAGIC = new Uint8Array(${JSON.stringify(FRAME_MAGIC)});
const stdout = Deno.stdout;
const writeSync = stdout.writeSync.bind(stdout);
const toStderr = console.error.bind(console);
for (const k of ["log", "info", "debug", "dir", "dirxml", "table"]) console[k] = toStderr;
let loaded = false;
const errorOf = (e) => e instanceof Error
  ? { name: String(e.name), message: String(e.message), stack: String(e.stack ?? "") }
  : { name: "Error", message: String(e), stack: "" };
const write = (obj) => {
  const body = serialize(obj);
  const out = new Uint8Array(8 + body.length);
  out.set(MAGIC);
  new DataView(out.buffer).setUint32(4, body.length);
  out.set(body, 8);
  for (let off = 0; off < out.length;) off += writeSync(out.subarray(off));
};
const uncaught = (e, what) => {
  e.preventDefault();
  if (!loaded) {
    write({ load: errorOf(e.reason ?? e.error) });
    Deno.exit(3);
  }
  toStderr("fusion sandbox: " + what + " in user code:", e.reason ?? e.error);
};
addEventListener("unhandledrejection", (e) => uncaught(e, "unhandled rejection"));
addEventListener("error", (e) => uncaught(e, "uncaught error"));
const compile = (source) => {
  let f;
  try {
    f = (0, eval)("(" + source + "\\n)");
  } catch (e) {
    throw new SyntaxError("runFun needs a function expression or an arrow function; " +
      "this source does not parse: " + e.message);
  }
  if (typeof f !== "function") throw new TypeError("runFun: the source is not a function");
  return f;
};
export function serve(mod) {
  loaded = true;
  const compiled = new Map();
  const exportOf = (name) => {
    const f = mod[name];
    if (typeof f === "function") return f;
    const names = Object.keys(mod).filter((k) => typeof mod[k] === "function");
    throw new TypeError(f === undefined
      ? 'the module has no export "' + name + '" (its functions: ' + (names.join(", ") || "none") + ")"
      : 'export "' + name + '" is a ' + typeof f + ", not a function");
  };
  const call = async ({ id, fn, source, args }) => {
    let reply;
    try {
      let f;
      if (typeof source === "string") {
        f = compiled.get(source);
        if (!f) compiled.set(source, f = compile(source));
      } else f = exportOf(fn);
      reply = { id, ok: true, value: await f(...args) };
    } catch (e) {
      reply = { id, ok: false, error: errorOf(e) };
    }
    try {
      write(reply);
    } catch (e) {
      write({ id, ok: false, error: { name: "DataCloneError",
        message: "the result cannot be sent back from the sandbox: " + e.message, stack: "" } });
    }
  };
  (async () => {
    let buf = new Uint8Array(0);
    for await (const chunk of Deno.stdin.readable) {
      const next = new Uint8Array(buf.length + chunk.length);
      next.set(buf);
      next.set(chunk, buf.length);
      buf = next;
      while (buf.length >= 4) {
        const n = new DataView(buf.buffer, buf.byteOffset).getUint32(0);
        if (buf.length < 4 + n) break;
        const msg = deserialize(buf.subarray(4, 4 + n));
        buf = buf.slice(4 + n);
        call(msg);
      }
    }
    Deno.exit(0);
  })();
}
`;

const dataUrl = (source: string) => `data:text/javascript,${encodeURIComponent(source)}`;
const SETUP_URL = dataUrl(SETUP);

/**
 * The main module of a sandbox serving the exports of the bundle at
 * `modulePath`, or (without one) functions shipped by their source.
 */
export function isolateMainUrl(modulePath: string | undefined): string {
  const lines = [`import { serve } from ${JSON.stringify(SETUP_URL)};`];
  if (modulePath === undefined) lines.push("serve({});");
  else {
    const url = new URL(`file://${modulePath}`).href;
    lines.push(`import * as mod from ${JSON.stringify(url)};`, "serve(mod);");
  }
  return dataUrl(lines.join("\n"));
}
