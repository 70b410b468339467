import type { ActorContext } from "../actor/types.ts";
import type { Node } from "../node.ts";
import { Pid } from "../wire/pid.ts";
import { ISOLATED_SPAWN, type IsolateSpec, parseIsolateSpec } from "./isolate_permissions.ts";
import { IsolatePool } from "./isolate_pool.ts";
import { ModuleCache } from "./module_cache.ts";

/** A run request: call export `fn` of bundle `hash` with `args` (`isolate` only for "run.isolated"). */
export interface RunPayload {
  hash: string;
  fn: string;
  args: unknown[];
  isolate?: IsolateSpec;
}

/** A spawn request: a run request, plus a pid of the caller's node to link the actor to. */
export interface SpawnPayload extends RunPayload {
  link?: Pid;
}

/** A runFun request: a function's source and its arguments (`isolate` only for "runFun.isolated"). */
export interface RunFunPayload {
  source: string;
  args: unknown[];
  isolate?: IsolateSpec;
}

// Isolated calls have services of their own, so that an agent without them
// fails the call instead of running it unsandboxed; the plain ones refuse `isolate`.
const NOT_HERE = "isolate belongs in a run.isolated or runFun.isolated request";

function isRun(p: unknown): p is RunPayload {
  const r = p as RunPayload;
  return !!r && typeof r.hash === "string" && typeof r.fn === "string" && Array.isArray(r.args);
}

/**
 * The agent's code services: which bundles it lacks, storing them, running
 * an export, running a function by its source, and spawning an actor.
 */
export function registerExecutor(node: Node, cache: ModuleCache = new ModuleCache()): void {
  keepAliveOnUserErrors();
  const compiled = new Map<string, (...args: unknown[]) => unknown>();
  let pool: IsolatePool | undefined;
  const sandboxes = () => pool ??= new IsolatePool({ maxProcesses: node.limits.maxIsolates });

  const exportOf = async (p: RunPayload) => {
    const mod = await cache.load(p.hash);
    const f = mod[p.fn];
    if (typeof f !== "function") {
      const names = Object.keys(mod).filter((k) => typeof mod[k] === "function");
      throw new TypeError(
        f === undefined
          ? `the module has no export "${p.fn}" (its functions: ${names.join(", ") || "none"})`
          : `export "${p.fn}" is a ${typeof f}, not a function`,
      );
    }
    return f as (...args: unknown[]) => unknown;
  };

  node.serve("code.missing", (payload) => {
    const hashes = (payload as { hashes?: unknown }).hashes;
    if (!Array.isArray(hashes)) throw new TypeError("code.missing needs { hashes: string[] }");
    return hashes.filter((h) => typeof h !== "string" || !cache.has(h));
  });

  node.serve("code.store", async (payload) => {
    const { hash, code } = payload as { hash?: unknown; code?: unknown };
    if (typeof hash !== "string" || !(code instanceof Uint8Array)) {
      throw new TypeError("code.store needs { hash, code }");
    }
    await cache.store(hash, code);
    return true;
  });

  node.serve("code.clear", () => cache.clear());

  node.serve("run", async (payload) => {
    if (!isRun(payload)) throw new TypeError("run needs { hash, fn, args }");
    if (payload.isolate !== undefined) throw new TypeError(NOT_HERE);
    const f = await exportOf(payload);
    return await f(...payload.args);
  });

  node.serve("run.isolated", async (payload) => {
    if (!isRun(payload)) throw new TypeError("run.isolated needs { hash, fn, args, isolate }");
    const spec = parseIsolateSpec(payload.isolate);
    const path = await cache.verifiedPath(payload.hash);
    return await sandboxes().run(path, { fn: payload.fn, args: payload.args }, spec);
  });

  node.serve("runFun.isolated", async (payload) => {
    const { source, args, isolate } = (payload ?? {}) as RunFunPayload;
    if (typeof source !== "string" || !Array.isArray(args)) {
      throw new TypeError("runFun.isolated needs { source, args, isolate }");
    }
    const spec = parseIsolateSpec(isolate);
    return await sandboxes().run(undefined, { source, args }, spec).catch((e) => {
      throw explainMissingName(e, node.name, source);
    });
  });

  node.serve("runFun", async (payload) => {
    const { source, args, isolate } = payload as RunFunPayload;
    if (typeof source !== "string" || !Array.isArray(args)) {
      throw new TypeError("runFun needs { source, args }");
    }
    if (isolate !== undefined) throw new TypeError(NOT_HERE);
    let f = compiled.get(source);
    if (!f) {
      f = compile(source);
      compiled.set(source, f);
    }
    try {
      return await f(...args);
    } catch (e) {
      throw explainMissingName(e, node.name, source);
    }
  });

  node.serve("sh", async (payload) => {
    const { command, cwd, env } = payload as { command?: unknown; cwd?: unknown; env?: unknown };
    if (typeof command !== "string") throw new TypeError("sh needs { command }");
    const out = await new Deno.Command("/bin/sh", {
      args: ["-c", command],
      ...(typeof cwd === "string" ? { cwd } : {}),
      ...(env && typeof env === "object" ? { env: env as Record<string, string> } : {}),
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  });

  node.serve("spawn", async (payload, { from }) => {
    if (!isRun(payload)) throw new TypeError("spawn needs { hash, fn, args, link? }");
    if (payload.isolate !== undefined) throw new TypeError(ISOLATED_SPAWN);
    const { link } = payload as SpawnPayload;
    if (link !== undefined && (!(link instanceof Pid) || link.node !== from.node)) {
      throw new TypeError("spawn: link must be a pid of the calling node");
    }
    const f = await exportOf(payload);
    const body = (ctx: ActorContext, ...args: unknown[]) => f(ctx, ...args);
    if (!link) return node.spawn(body, ...payload.args);
    // Linked before the body runs (OTP's spawn_request with link): the LINK goes
    // out ahead of any exit signal and of this reply, on the same connection.
    return node.actors.spawn(body, payload.args, { link });
  });
}

let guarded = false;

// User code never takes the agent down: what escapes it is reported on stderr.
function keepAliveOnUserErrors(): void {
  if (guarded) return;
  guarded = true;
  // Handled already: a ctx.exit from a timer, which the actor layer (its node came first) swallows.
  globalThis.addEventListener("unhandledrejection", (e) => {
    if (e.defaultPrevented) return;
    e.preventDefault();
    console.error("fusion agent: unhandled rejection in user code:", e.reason);
  });
  globalThis.addEventListener("error", (e) => {
    if (e.defaultPrevented) return;
    e.preventDefault();
    console.error("fusion agent: uncaught error in user code:", e.error);
  });
}

function compile(source: string): (...args: unknown[]) => unknown {
  let f: unknown;
  try {
    // Indirect eval: the function sees only the agent's globals, never this module's scope.
    f = (0, eval)(`(${source}\n)`);
  } catch (e) {
    throw new SyntaxError(
      `runFun needs a function expression or an arrow function; this source does not parse: ${
        (e as Error).message
      }`,
    );
  }
  if (typeof f !== "function") throw new TypeError("runFun: the source is not a function");
  return f as (...args: unknown[]) => unknown;
}

// A name the function closed over locally does not exist here: say so, and what to do.
function explainMissingName(e: unknown, node: string, source: string): unknown {
  // By name: an error from a sandbox is rebuilt as a plain Error carrying its name.
  if (!(e instanceof Error) || e.name !== "ReferenceError") return e;
  const name = /^(\S+) is not defined/.exec(e.message)?.[1];
  // Only a name the shipped source itself uses (not one inside code it evaluates or calls).
  if (!name || !new RegExp(`(^|[^\\w$.])${name.replace(/[$]/g, "\\$")}([^\\w$]|$)`).test(source)) {
    return e;
  }
  const err = new ReferenceError(
    `runFun: the function uses "${name}", which does not exist on ${node}. ` +
      `runFun ships only the function's source: pass "${name}" in args, ` +
      `or put the code in a module and use run().`,
  );
  const frames = (e.stack ?? "").split("\n").slice(1).join("\n");
  err.stack = `${err.name}: ${err.message}\n${frames}`;
  return err;
}
