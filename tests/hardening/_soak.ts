/**
 * The soak: a local hub and one agent behind a real sshd, steady messages and calls, and the
 * agent killed (SIGKILL, on the server) every cycle, then reconnected. Checks that no
 * acknowledged message is lost or duplicated, that calls either succeed with the right value or
 * fail with NodeDownError at a kill, that this process's RSS and open descriptors stay flat,
 * that the server never runs two agents and keeps nothing afterwards.
 *
 * "Acknowledged": the remote receiver writes each sequence number to a log on the server before
 * it acks it, so an ack that came back proves the message was recorded. After each kill the log
 * is read and compared with what was sent and what was acked.
 * @module
 */
import type { DownMessage } from "../../src/actor/types.ts";
import { NodeDownError, TimeoutError } from "../../src/errors.ts";
import { Node } from "../../src/node.ts";
import { NodeManager } from "../../src/remote/mod.ts";
import type { RemoteNode } from "../../src/remote/remote_node.ts";
import type { SshBackendKind } from "../../src/ssh/mod.ts";
import type { Pid } from "../../src/wire/pid.ts";
import type { Ref } from "../../src/wire/ref.ts";
import { type SshdHost, startSshd } from "../support/mod.ts";
import { COOKIE, sleep } from "./_helpers.ts";

/** The module pushed to each agent. */
export const SOAK_CODE: URL = new URL("./_fixtures/soak_code.ts", import.meta.url);

/** Options for {@linkcode runSoak}. */
export interface SoakOptions {
  /** Length of the whole run (default 30). */
  seconds?: number;
  /** The agent is killed every this many seconds (default 5); the last cycle ends cleanly. */
  cycleSeconds?: number;
  /** Cycles whose samples are not compared (default 1): the first connect warms caches. */
  warmupCycles?: number;
  /** Messages to the remote receiver per second (default 200). */
  messagesPerSecond?: number;
  /** Calls (ping, runFun, run, in turn) per second (default 30). */
  callsPerSecond?: number;
  /** Messages sent at once just before each kill, so that some are in flight (default 200). */
  burst?: number;
  /**
   * Tick timeout of the hub and the agent (default 15 000 ms). A kill closes the link, so DOWN
   * comes at once whatever this is; a short one only makes a loaded machine tick out.
   */
  tickTimeoutMs?: number;
  /** SSH backend (default "ssh2"). */
  backend?: SshBackendKind;
  /** Flatness bounds. */
  flatness?: FlatnessOptions;
  /** Opens this many descriptors per cycle and keeps them: shows that the fd check fails. */
  leakFdsPerCycle?: number;
  /** Called after each cycle is checked. */
  onCycle?: (cycle: SoakCycle) => void;
}

/** What one cycle (one agent, from connect to kill) did. */
export interface SoakCycle {
  /** 1-based. */
  cycle: number;
  /** The agent's node name. */
  agent: string;
  /** Messages sent to this agent's receiver. */
  sent: number;
  /** Of those, acknowledged. */
  acked: number;
  /** Sent and never acknowledged (in flight at the kill). */
  lostInFlight: number;
  /** Of those, recorded by the receiver but whose ack was lost. */
  receivedNotAcked: number;
  /** Calls that returned the right value. */
  calls: number;
  /** Calls that failed with NodeDownError because of the kill. */
  callsFailed: number;
  /** This process's resident set just before the kill, in MiB. */
  rssMiB: number;
  /** This process's open descriptors just before the kill. */
  fds: number;
  /** V8 heap in use just before the kill, MiB. */
  heapMiB: number;
  /** From the kill to the DOWN of the receiver (undefined for the last, clean cycle). */
  downMs: number | undefined;
  /** From the DOWN to the next receiver spawned (undefined for the last cycle). */
  reconnectMs: number | undefined;
}

/** The outcome of a soak. */
export interface SoakReport {
  cycles: SoakCycle[];
  /** Wall time of the traffic, in seconds. */
  seconds: number;
  /** Sums over the cycles. */
  totals: {
    sent: number;
    acked: number;
    lostInFlight: number;
    receivedNotAcked: number;
    calls: number;
    callsFailed: number;
    kills: number;
  };
  /** The most agent processes the server ran at once (sampled every 250 ms). */
  maxAgents: number;
  /** Processes of the test user left on the server after the clean disconnect. */
  leftOnServer: string[];
  /** Open descriptors after the clean disconnect. */
  fdsAfter: number;
  /** Every broken promise; empty when the soak passed. */
  violations: string[];
}

/** Bounds of {@linkcode flatnessViolations}. */
export interface FlatnessOptions {
  /** Samples before the baseline (default 1). */
  warmupCycles?: number;
  /** Descriptors allowed above the baseline (default 5). */
  fdSlack?: number;
  /** RSS allowed above the baseline, as a fraction of it (default 0.5). */
  rssGrowth?: number;
}

/** One sample of this process. */
export interface ProcessSample {
  rssMiB: number;
  fds: number;
  /** V8 heap in use, MiB (after a full GC when run with --v8-flags=--expose-gc). */
  heapMiB?: number;
}

/**
 * This process's VmRSS (MiB), V8 heap in use and number of open descriptors, from /proc.
 * With `--v8-flags=--expose-gc` (as `deno task soak` runs) a full GC comes first, so that a
 * lazy collector does not pass for a leak.
 */
export function sampleProcess(): ProcessSample {
  (globalThis as { gc?: () => void }).gc?.();
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  let fds = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) fds++;
  return { rssMiB: kb / 1024, fds, heapMiB: Deno.memoryUsage().heapUsed / (1024 * 1024) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * What is not flat in per-cycle samples: the first sample after the warm-up is the baseline;
 * descriptors may not exceed it by more than `fdSlack` nor grow at every cycle (four or more
 * samples); RSS may not exceed it by more than `rssGrowth`, and on long runs (12 samples or
 * more) the median of the last third may not exceed that of the first third by half of it.
 */
export function flatnessViolations(
  samples: readonly ProcessSample[],
  options: FlatnessOptions = {},
): string[] {
  const warmup = options.warmupCycles ?? 1;
  const slack = options.fdSlack ?? 5;
  const growth = options.rssGrowth ?? 0.5;
  const post = samples.slice(warmup);
  const base = post[0];
  if (!base || post.length < 2) return [];
  const out: string[] = [];
  const at = (i: number) => `cycle ${warmup + i + 1}`;
  post.forEach((s, i) => {
    if (s.fds > base.fds + slack) {
      out.push(`open fds ${s.fds} at ${at(i)}, baseline ${base.fds} (+${slack} allowed)`);
    }
    if (s.rssMiB > base.rssMiB * (1 + growth)) {
      out.push(
        `RSS ${s.rssMiB.toFixed(1)} MiB at ${at(i)}, baseline ${base.rssMiB.toFixed(1)} MiB ` +
          `(+${growth * 100}% allowed)`,
      );
    }
  });
  if (post.length >= 4 && post.every((s, i) => i === 0 || s.fds > post[i - 1]!.fds)) {
    out.push(`open fds grew at every cycle: ${post.map((s) => s.fds).join(", ")}`);
  }
  if (post.length >= 12) {
    const third = Math.floor(post.length / 3);
    const first = median(post.slice(0, third).map((s) => s.rssMiB));
    const last = median(post.slice(-third).map((s) => s.rssMiB));
    if (last > first * (1 + growth / 2)) {
      out.push(
        `RSS keeps growing: median ${first.toFixed(1)} MiB in the first third, ` +
          `${last.toFixed(1)} MiB in the last`,
      );
    }
  }
  return out;
}

/**
 * The host user's live agent processes, from /proc: Deno running a cached agent bundle. Matched on
 * the exact argv, since the start script (and its forks, and sha256sum) name the bundle too.
 */
function agentProcesses(host: SshdHost): { pid: number; command: string }[] {
  const out: { pid: number; command: string }[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const status = Deno.readTextFileSync(`/proc/${e.name}/status`);
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) !== host.uid) continue;
      if (/^State:\s+[ZX]/m.test(status)) continue;
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0").filter((a) => a);
      if (argv.includes("run") && /\/\.cache\/fusion\/agent-[0-9a-f]{64}\.js$/.test(argv.at(-1)!)) {
        out.push({ pid: Number(e.name), command: argv.join(" ") });
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** `p`, or a TimeoutError naming `what` after `ms`. */
async function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${what} took over ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One agent's life. */
interface Incarnation {
  n: number;
  remote: RemoteNode;
  agentPid: number;
  receiver: Pid;
  ref: Ref;
  logPath: string;
  sent: number[];
  acked: number[];
  calls: number;
  callsFailed: number;
  inflight: Set<Promise<void>>;
  /** Set just before the kill: from then on, NodeDownError is expected. */
  killed: boolean;
}

type Ack = { ack: number; inc: number };
type Sync = { sync: Pid };
type Burst = { burst: number; inc: number; to: Pid };

/**
 * Runs the soak (its own sshd, user and hub, all taken down at the end, also on failure) and
 * reports what it saw. It throws only when it cannot go on (a step that hangs); broken
 * promises are listed in `violations`.
 */
export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const seconds = options.seconds ?? 30;
  const cycleMs = (options.cycleSeconds ?? 5) * 1000;
  const cycles = Math.max(1, Math.round(seconds * 1000 / cycleMs));
  const tickTimeoutMs = options.tickTimeoutMs ?? 15_000;
  const msgBatch = Math.max(1, Math.round((options.messagesPerSecond ?? 200) / 20));
  const callEveryMs = 1000 / (options.callsPerSecond ?? 30);
  const burstSize = options.burst ?? 200;
  const violations: string[] = [];
  const report: SoakCycle[] = [];
  const samples: ProcessSample[] = [];
  const leaked: Deno.FsFile[] = [];
  let maxAgents = 0;
  let leftOnServer: string[] = [];
  let fdsAfter = 0;
  let stopped = false;
  let current: Incarnation | undefined;
  // Checked agents are dropped (undefined): the soak itself must not hold what it measures.
  const incs: (Incarnation | undefined)[] = [];

  const host = await startSshd();
  let hub: Node | undefined;
  let manager: NodeManager | undefined;
  let poller: Promise<void> = Promise.resolve();
  let sender: Promise<void> = Promise.resolve();
  let caller: Promise<void> = Promise.resolve();
  let senderPid: Pid | undefined;
  const t0 = performance.now();
  try {
    hub = await Node.start({
      name: `soak-${crypto.randomUUID().slice(0, 6)}`,
      cookie: COOKIE,
      registryPort: 0,
      tickTimeoutMs,
    });
    const node = hub;
    manager = new NodeManager(host.target({ sshBackend: options.backend ?? "ssh2" }), {
      node,
      tickTimeoutMs,
      connectTimeoutMs: 60_000,
      output: () => {},
    });
    using inbox = node.inbox();

    // The server never runs two agents at once.
    poller = (async () => {
      while (!stopped) {
        const agents = agentProcesses(host);
        if (agents.length > maxAgents) maxAgents = agents.length;
        if (agents.length > 1) {
          violations.push(
            `${agents.length} agents on the server: ${
              agents.map((a) => `${a.pid} ${a.command.slice(0, 200)}`).join("; ")
            }`,
          );
        }
        await sleep(250);
      }
    })();

    // The local sender: a batch every 50 ms to the current receiver; acks back to it.
    const senderDone = Promise.withResolvers<void>();
    sender = senderDone.promise;
    let seq = 0;
    senderPid = node.spawn(async (ctx) => {
      try {
        let next = performance.now();
        while (!stopped) {
          let m: unknown;
          try {
            m = await ctx.receive({ timeoutMs: Math.max(0, next - performance.now()) });
          } catch (e) {
            if (!(e instanceof TimeoutError)) throw e;
          }
          const ack = m as Ack | undefined;
          if (typeof ack?.ack === "number") {
            // A duplicate or an ack from the wrong agent breaks verify()'s prefix check.
            const inc = incs[ack.inc - 1];
            if (inc) inc.acked.push(ack.ack);
            else violations.push(`ack of ${ack.ack} from agent #${ack.inc} after it was checked`);
          }
          const sync = m as Sync | undefined;
          if (sync?.sync) ctx.send(sync.sync, { synced: true });
          const burst = m as Burst | undefined;
          if (typeof burst?.burst === "number") {
            const inc = incs[burst.inc - 1]!;
            for (let i = 0; i < burst.burst; i++) {
              inc.sent.push(seq);
              ctx.send(inc.receiver, { seq: seq++, from: ctx.self });
            }
            ctx.send(burst.to, { burstSent: true });
          }
          const now = performance.now();
          if (now >= next) {
            const inc = current;
            if (inc && !inc.killed) {
              for (let i = 0; i < msgBatch; i++) {
                inc.sent.push(seq);
                ctx.send(inc.receiver, { seq: seq++, from: ctx.self });
              }
            }
            next += 50;
            if (next < now - 1000) next = now; // fell far behind (a loaded machine): no burst
          }
        }
      } catch (e) {
        violations.push(`the sender failed: ${e}`);
      } finally {
        senderDone.resolve();
      }
    });
    // Every ack already delivered to the sender has been counted once this resolves.
    const syncSender = async () => {
      node.send(senderPid!, { sync: inbox.self });
      await timed(
        inbox.receive({ match: (m) => (m as { synced?: boolean })?.synced === true }),
        10_000,
        "syncing with the sender",
      );
    };

    // A call must give the right value, or NodeDownError once its agent is being killed.
    const track = (inc: Incarnation, what: string, call: Promise<boolean>) => {
      const p: Promise<void> = call.then(
        (ok) => {
          if (ok) inc.calls++;
          else violations.push(`${what} on ${inc.remote.name} returned a wrong value`);
        },
        (e) => {
          if (e instanceof NodeDownError && inc.killed) inc.callsFailed++;
          else violations.push(`${what} on ${inc.remote.name} failed: ${e}`);
        },
      ).finally(() => inc.inflight.delete(p));
      inc.inflight.add(p);
    };

    // Calls at a steady rate: ping, runFun, run of the pushed module, in turn.
    caller = (async () => {
      let i = 0;
      let next = performance.now();
      while (!stopped) {
        await sleep(Math.max(0, next - performance.now()));
        next += callEveryMs;
        if (next < performance.now() - 1000) next = performance.now();
        const inc = current;
        if (!inc || inc.killed || inc.inflight.size >= 64) continue;
        const k = i++;
        const call: Promise<boolean> = k % 3 === 0
          ? inc.remote.request("ping", null, { timeoutMs: 30_000 }).then(() => true)
          : k % 3 === 1
          ? inc.remote.runFun((a: number, b: number) => a + b, [k, 1], { timeoutMs: 30_000 })
            .then((v) => v === k + 1)
          : inc.remote.run(SOAK_CODE, "double", [k], { timeoutMs: 30_000 })
            .then((v) => v === 2 * k);
        track(inc, `${["ping", "runFun", "run"][k % 3]} #${k}`, call);
      }
    })();

    /** Checks an agent's log against what was sent and acked; fills its cycle's report. */
    const verify = async (inc: Incarnation, sample: ProcessSample, downMs?: number) => {
      await syncSender();
      const text = await Deno.readTextFile(inc.logPath);
      await Deno.remove(inc.logPath).catch(() => {});
      const log = text.split("\n").filter((l) => l !== "").map(Number);
      const name = inc.remote.name;
      const gap = log.findIndex((s, i) => s !== inc.sent[i]);
      if (gap >= 0 || log.length > inc.sent.length) {
        violations.push(
          `${name}: recorded ${log.length} messages but not as a prefix of the ${inc.sent.length} ` +
            `sent (first difference at #${gap}: ${log[gap]} for ${inc.sent[gap]})`,
        );
      }
      const lost = inc.acked.findIndex((s, i) => s !== log[i]);
      if (lost >= 0 || inc.acked.length > log.length) {
        violations.push(
          `${name}: ${inc.acked.length} acknowledged but not as a prefix of the ${log.length} ` +
            `recorded (first difference at #${lost}: acked ${inc.acked[lost]}, recorded ${
              log[lost]
            })`,
        );
      }
      const cycle: SoakCycle = {
        cycle: inc.n,
        agent: name,
        sent: inc.sent.length,
        acked: inc.acked.length,
        lostInFlight: inc.sent.length - inc.acked.length,
        receivedNotAcked: Math.max(0, log.length - inc.acked.length),
        calls: inc.calls,
        callsFailed: inc.callsFailed,
        rssMiB: sample.rssMiB,
        fds: sample.fds,
        heapMiB: sample.heapMiB ?? NaN,
        downMs,
        reconnectMs: undefined,
      };
      report.push(cycle);
      incs[inc.n - 1] = undefined;
      return cycle;
    };

    let downAt = 0;
    for (let n = 1; n <= cycles; n++) {
      const remote = await timed(manager.connect(), 90_000, `connect #${n}`);
      const info = await timed(remote.info(), 30_000, `info() #${n}`);
      const logPath = `${host.home}/soak-${n}.log`;
      const receiver = await timed(
        remote.spawn(SOAK_CODE, "acker", [logPath, n], { timeoutMs: 60_000 }),
        90_000,
        `spawn of the receiver #${n}`,
      );
      const inc: Incarnation = {
        n,
        remote,
        agentPid: info.pid,
        receiver,
        ref: inbox.monitor(receiver),
        logPath,
        sent: [],
        acked: [],
        calls: 0,
        callsFailed: 0,
        inflight: new Set(),
        killed: false,
      };
      incs.push(inc);
      current = inc;
      const previous = report.at(-1);
      if (previous && downAt) previous.reconnectMs = performance.now() - downAt;
      if (previous) options.onCycle?.(previous);
      for (let i = 0; i < (options.leakFdsPerCycle ?? 0); i++) {
        leaked.push(Deno.openSync("/dev/null"));
      }

      // Traffic until this cycle's slot ends, one second at least.
      await sleep(Math.max(1000, t0 + n * cycleMs - performance.now()));
      const sample = sampleProcess();
      samples.push(sample);

      if (n === cycles) {
        // The last cycle ends cleanly: nothing may be lost.
        current = undefined;
        await timed(Promise.all(inc.inflight), 60_000, "the last calls");
        const end = performance.now() + 10_000;
        while (inc.acked.length < inc.sent.length && performance.now() < end) {
          await syncSender();
          await sleep(50);
        }
        const c = await verify(inc, sample);
        if (c.lostInFlight > 0) {
          violations.push(`${c.lostInFlight} messages never acked without any fault`);
        }
        options.onCycle?.(c);
        break;
      }

      // Kill the agent on the server; only it may be running.
      const agents = agentProcesses(host);
      if (agents.length !== 1 || agents[0]!.pid !== inc.agentPid) {
        violations.push(
          `before kill #${n}: agents on the server ${JSON.stringify(agents)}, ` +
            `expected pid ${inc.agentPid}`,
        );
      }
      inc.killed = true;
      current = undefined;
      // In flight at the kill, for sure: slow calls, and a burst of messages.
      for (let i = 0; i < 4; i++) {
        const slow = (ms: number) => new Promise((r) => setTimeout(r, ms, ms));
        track(inc, `slow call ${i}`, remote.runFun(slow, [300]).then((v) => v === 300));
      }
      node.send(senderPid, { burst: burstSize, inc: n, to: inbox.self });
      await timed(
        inbox.receive({ match: (m) => (m as { burstSent?: boolean })?.burstSent === true }),
        10_000,
        `the burst before kill #${n}`,
      );
      // Kill once a quarter of the burst is acked: the rest is on its way, either way.
      const target = inc.sent.length - burstSize * 0.75;
      const waitUntil = performance.now() + 2000;
      while (inc.acked.length < target && performance.now() < waitUntil) await sleep(1);
      const killAt = performance.now();
      try {
        Deno.kill(inc.agentPid, "SIGKILL");
      } catch (e) {
        violations.push(`kill #${n}: the agent was gone before its kill (${e})`);
      }
      const down = await timed(
        inbox.receive<DownMessage>({
          match: (m) =>
            (m as DownMessage)?.type === "DOWN" && inc.ref.equals((m as DownMessage).ref),
        }),
        tickTimeoutMs + 10_000,
        `the DOWN after kill #${n}`,
      );
      downAt = performance.now();
      if (down.reason !== "noconnection") {
        violations.push(`kill #${n}: DOWN with reason ${JSON.stringify(down.reason)}`);
      }
      const afterKill = await remote.ping().then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(afterKill instanceof NodeDownError)) {
        violations.push(`kill #${n}: a call after the DOWN gave ${afterKill} not NodeDownError`);
      }
      await timed(Promise.all(inc.inflight), 30_000, `the calls in flight at kill #${n}`);
      await verify(inc, sample, downAt - killAt);
    }
    stopped = true;
    await timed(Promise.all([sender, caller]), 10_000, "the sender and caller stopping");

    await timed(manager.disconnect(), 30_000, "disconnect()");
    leftOnServer = (await host.waitForNoProcesses({ timeoutMs: 10_000 })).map((p) =>
      `${p.pid} ${p.command}`
    );
    if (leftOnServer.length) violations.push(`left on the server: ${leftOnServer.join("; ")}`);
    await poller;
    fdsAfter = sampleProcess().fds;
    const base = samples[options.flatness?.warmupCycles ?? 1];
    const slack = options.flatness?.fdSlack ?? 5;
    if (base && fdsAfter > base.fds + slack) {
      violations.push(`open fds ${fdsAfter} after disconnect, baseline ${base.fds}`);
    }
    violations.push(...flatnessViolations(samples, options.flatness));
  } finally {
    stopped = true;
    await Promise.allSettled([poller, sender, caller]);
    for (const f of leaked) f.close();
    await manager?.disconnect().catch(() => {});
    await hub?.close().catch(() => {});
    await host.stop();
  }
  const sum = (f: (c: SoakCycle) => number) => report.reduce((a, c) => a + f(c), 0);
  return {
    cycles: report,
    seconds: (performance.now() - t0) / 1000,
    totals: {
      sent: sum((c) => c.sent),
      acked: sum((c) => c.acked),
      lostInFlight: sum((c) => c.lostInFlight),
      receivedNotAcked: sum((c) => c.receivedNotAcked),
      calls: sum((c) => c.calls),
      callsFailed: sum((c) => c.callsFailed),
      kills: report.filter((c) => c.downMs !== undefined).length,
    },
    maxAgents,
    leftOnServer,
    fdsAfter,
    violations,
  };
}

/** One line about a cycle, for logs. */
export function formatCycle(c: SoakCycle): string {
  const ms = (x: number | undefined) => x === undefined ? "-" : `${x.toFixed(0)} ms`;
  return `cycle ${String(c.cycle).padStart(3)}: acked ${c.acked}/${c.sent} ` +
    `(lost in flight ${c.lostInFlight}, of them received ${c.receivedNotAcked}), ` +
    `calls ${c.calls} (+${c.callsFailed} NodeDownError), DOWN ${ms(c.downMs)}, ` +
    `reconnect ${ms(c.reconnectMs)}, RSS ${c.rssMiB.toFixed(1)} MiB, ` +
    `heap ${c.heapMiB.toFixed(1)} MiB, fds ${c.fds}`;
}
