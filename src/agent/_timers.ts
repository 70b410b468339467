/**
 * The agent bundle's own timers (build_agent.ts points the bundle's `setTimeout`,
 * `clearTimeout`, `setInterval`, `clearInterval` and `Deno.unrefTimer` here).
 * Since Deno 2.8 the global timers are node:timers, and their first use loads
 * Node's compat layer: ~15-25 ms of CPU in every agent start. Deno's core timers
 * underneath do the same without it. User code keeps the global timers. Where the
 * core timers are missing (older Deno, or a Deno that moved them), the globals.
 * @module
 */

interface CoreTimers {
  createTimer(
    fn: (...args: unknown[]) => void,
    ms: number,
    args: unknown[] | undefined,
    repeat: boolean,
    refed: boolean,
    system: boolean,
  ): object;
  cancelTimer(timer: object): void;
  unrefTimer(timer: object): void;
}

type Fn = (...args: unknown[]) => void;
// Through Reflect, and only when needed: reading the global loads node:timers, and the
// bundle's own `setTimeout` names are these functions.
// deno-lint-ignore ban-types
const global = (name: string) => Reflect.get(globalThis, name) as Function;

function findCore(): CoreTimers | undefined {
  // Older Denos' global timers are the web ones: nothing to avoid. The shape checked
  // below is the one of Deno 2.8 and 2.9.
  const [major = 0, minor = 0] = Deno.version.deno.split(".").map(Number);
  if (major < 2 || (major === 2 && minor < 8)) return undefined;
  try {
    const internal = Reflect.get(Deno, "internal");
    const core = internal === undefined ? undefined : Reflect.get(Deno, internal)?.core;
    if (
      typeof core?.createTimer === "function" && core.createTimer.length === 6 &&
      typeof core.cancelTimer === "function" && typeof core.unrefTimer === "function"
    ) return core as CoreTimers;
  } catch { /* not there */ }
  return undefined;
}

const core = findCore();

// The timers made here: anything else handed to the clear functions (a global timer's
// handle) goes to the global functions, which ignore what they do not know.
const made = new WeakSet<object>();

function isCoreTimer(t: unknown): t is object {
  return typeof t === "object" && t !== null && made.has(t);
}

function track(t: object): object {
  made.add(t);
  return t;
}

/** `setTimeout` for the agent's own code. */
export function agentSetTimeout(fn: Fn, ms?: number, ...args: unknown[]): unknown {
  if (!core) return global("setTimeout")(fn, ms, ...args);
  return track(core.createTimer(fn, ms ?? 0, args, false, true, false));
}

/** `setInterval` for the agent's own code. */
export function agentSetInterval(fn: Fn, ms?: number, ...args: unknown[]): unknown {
  if (!core) return global("setInterval")(fn, ms, ...args);
  return track(core.createTimer(fn, ms ?? 0, args, true, true, false));
}

/** `clearTimeout` (and `clearInterval`) for the agent's own code. */
export function agentClearTimeout(timer: unknown): void {
  if (!core) return global("clearTimeout")(timer);
  if (isCoreTimer(timer)) core.cancelTimer(timer);
  else if (timer !== undefined && timer !== null) global("clearTimeout")(timer);
}

/** `clearInterval` for the agent's own code. */
export function agentClearInterval(timer: unknown): void {
  if (!core) return global("clearInterval")(timer);
  if (isCoreTimer(timer)) core.cancelTimer(timer);
  else if (timer !== undefined && timer !== null) global("clearInterval")(timer);
}

/** `Deno.unrefTimer` for the agent's own code. */
export function agentUnrefTimer(timer: unknown): void {
  if (!core) return (Reflect.get(Deno, "unrefTimer") as (t: unknown) => void)(timer);
  if (isCoreTimer(timer)) core.unrefTimer(timer);
}
