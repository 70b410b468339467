/** Code the hardening tests push to agents: small actors, and exports returning hostile values. */
import type { ActorContext, Pid } from "../../../mod.ts";

/** Forwards every message to `to` as { got, via }, until killed. */
export async function forward(ctx: ActorContext, to: Pid): Promise<void> {
  while (true) {
    const got = await ctx.receive();
    ctx.send(to, { got, via: ctx.self });
  }
}

/** Waits for nothing, forever. */
export async function idle(ctx: ActorContext): Promise<void> {
  await ctx.receive({ match: () => false });
}

/** Returns its argument. */
export function echo<T>(x: T): T {
  return x;
}

/** A string of `n` characters. */
export function bigString(n: number): string {
  return "x".repeat(n);
}

/** An object that contains itself. */
export function cyclic(): unknown {
  const a: Record<string, unknown> = { name: "loop" };
  a.self = a;
  return a;
}

/** Arrays nested `n` deep. */
export function deep(n: number): unknown {
  let v: unknown = 0;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/** An array of `n` zeros. */
export function manyItems(n: number): number[] {
  return new Array(n).fill(0);
}

/** A function, which cannot cross the wire. */
export function aFunction(): () => number {
  return () => 1;
}
