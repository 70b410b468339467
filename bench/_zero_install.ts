/**
 * Zero-install: `installDeno: true` against a server user whose PATH has no Deno
 * (sshd SetEnv, as tests/integration/remote/install_deno_test.ts does). Cold: the
 * gzip of the local Deno is uploaded, checked and cached on the server, beside the
 * same gzip sent by hand through `ssh host 'gzip -dc > f …'`. Warm: the uploaded
 * Deno is found in the server's cache, beside a normal warm connect to a host with
 * Deno on its PATH, interleaved.
 * @module
 */
import type { Node } from "../src/node.ts";
import { NodeManager } from "../src/remote/mod.ts";
import { type SshdHost, startSshd } from "../tests/support/mod.ts";
import { type Report, sshArgs } from "./_row.ts";
import { summarize } from "./_stats.ts";

/** Options for {@linkcode benchZeroInstall}. */
export interface ZeroInstallOptions {
  /** Quick: no upload (~42 MB); the Deno binary is copied into the server's cache instead. */
  quick: boolean;
  /** Cold uploads (default 2; the quick mode makes none). */
  coldRuns?: number;
  /** Warm connects of each kind (default 10). */
  warmRuns?: number;
  report: Report;
}

const VERSION = Deno.version.deno;
// What the install script and the agent's start script need, and gzip.
const TOOLS = [
  "sh",
  "sha256sum",
  "cut",
  "cat",
  "mkdir",
  "chmod",
  "mv",
  "rm",
  "uname",
  "getconf",
  "gzip",
];

function which(tool: string): string {
  const out = new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "piped" })
    .outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

/** `ssh host 'gzip -dc > f; sha256sum f; f --version'` < gz: the upload done by hand. */
async function uploadByHand(h: SshdHost, gz: string): Promise<number> {
  const t0 = performance.now();
  const child = new Deno.Command("ssh", {
    args: sshArgs(
      h,
      'umask 077; F="$HOME/deno-by-hand"; gzip -dc > "$F" && sha256sum "$F" > /dev/null && chmod 700 "$F" && "$F" --version > /dev/null && rm -f "$F"',
    ),
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const file = await Deno.open(gz);
  await file.readable.pipeTo(child.stdin);
  const out = await child.output();
  if (!out.success) {
    throw new Error(`upload by hand failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return performance.now() - t0;
}

/** Times of the install's log lines, relative to the connect's start. */
interface InstallLog {
  compressMs: number;
  uploadMs: number;
  sentMB: number;
}

function watchLog(t0: () => number): { log: (l: string) => void; read: () => InstallLog } {
  const at: Record<string, number> = {};
  let sentMB = NaN;
  const log = (line: string) => {
    const now = performance.now() - t0();
    if (line.includes("compressing Deno ")) at.compressing = now;
    else if (line.includes("compressed Deno:")) at.compressed = now;
    else if (/uploading Deno \d/.test(line)) at.uploading = now;
    else if (line.includes("installed Deno ")) at.installed = now;
    const m = /sent Deno to .* as ([\d.]+) MB/.exec(line);
    if (m) sentMB = Number(m[1]);
  };
  const read = () => ({
    compressMs: at.compressed !== undefined && at.compressing !== undefined
      ? at.compressed - at.compressing
      : 0,
    uploadMs: (at.installed ?? NaN) - (at.uploading ?? NaN),
    sentMB,
  });
  return { log, read };
}

/** Runs `fn` with XDG_CACHE_HOME (where the local gzip of Deno is kept) set to `dir`. */
async function withLocalCache<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = Deno.env.get("XDG_CACHE_HOME");
  Deno.env.set("XDG_CACHE_HOME", dir);
  try {
    return await fn();
  } finally {
    if (before === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", before);
  }
}

/** Puts the local Deno where an upload would have (quick mode: no upload). */
async function placeDeno(h: SshdHost): Promise<void> {
  const gid = (await Deno.stat(h.home)).gid ?? h.uid;
  let dir = h.home;
  for (const part of [".cache", "fusion", "deno", VERSION]) {
    dir = `${dir}/${part}`;
    await Deno.mkdir(dir).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    await Deno.chown(dir, h.uid, gid);
    await Deno.chmod(dir, 0o700);
  }
  await Deno.copyFile(Deno.execPath(), `${dir}/deno`);
  await Deno.chown(`${dir}/deno`, h.uid, gid);
  await Deno.chmod(`${dir}/deno`, 0o700);
}

/**
 * The "zero-install" section: `normal` is a host whose PATH has Deno (the warm
 * baseline); a second sshd whose user has no Deno on its PATH is started here.
 */
export async function benchZeroInstall(
  normal: SshdHost,
  hub: Node,
  options: ZeroInstallOptions,
): Promise<void> {
  const { report, quick } = options;
  const coldRuns = quick ? 0 : options.coldRuns ?? 2;
  const warmRuns = options.warmRuns ?? (quick ? 1 : 10);
  const section = "zero-install";
  const root = await Deno.makeTempDir({ prefix: "fusion-bench-zero-install-" });
  let host: SshdHost | undefined;
  try {
    await Deno.chmod(root, 0o755);
    const bin = `${root}/bin`;
    await Deno.mkdir(bin);
    await Deno.chmod(bin, 0o755);
    for (const tool of TOOLS) await Deno.symlink(which(tool), `${bin}/${tool}`);
    host = await startSshd({ hostKeyTypes: ["ed25519"], extraConfig: [`SetEnv PATH=${bin}`] });
    const h = host;
    // A fresh local cache: the first upload compresses the local Deno once (reported apart).
    const localCache = `${root}/xdg`;
    const fusionCache = `${h.home}/.cache/fusion`;

    // Times the connect alone (not the disconnect), as the connect section does.
    const connect = async (target: SshdHost, installDeno: boolean): Promise<number> => {
      const m = new NodeManager(target.target(), { node: hub, installDeno });
      const t0 = performance.now();
      try {
        await m.connect();
        return performance.now() - t0;
      } finally {
        await m.disconnect();
      }
    };
    // The server really has no Deno.
    const refused = await connect(h, false).then(() => false, () => true);
    if (!refused) throw new Error("the zero-install host found a Deno without installDeno");

    if (coldRuns === 0) {
      report.log(
        "  quick: the cold upload (~42 MB) is skipped; the local Deno is copied into the server's cache so that the warm path is measured",
      );
      await placeDeno(h);
    } else {
      report.log(`  cold: ${coldRuns} connects that upload Deno, each beside an upload by hand`);
      const cold: number[] = [];
      const upload: number[] = [];
      const byHand: number[] = [];
      let compressMs = 0;
      let sentMB = NaN;
      for (let i = 0; i < coldRuns; i++) {
        await Deno.remove(fusionCache, { recursive: true }).catch(() => {});
        let t0 = 0;
        const w = watchLog(() => t0);
        const m = new NodeManager(h.target(), { node: hub, installDeno: true, log: w.log });
        t0 = performance.now();
        const remote = await withLocalCache(localCache, () => m.connect());
        const ms = performance.now() - t0;
        const version = await remote.runFun(() => Deno.version.deno);
        await m.disconnect();
        if (version !== VERSION) throw new Error(`the uploaded Deno is ${version}`);
        const l = w.read();
        compressMs = Math.max(compressMs, l.compressMs);
        sentMB = l.sentMB;
        // What a connect costs once the local gzip exists (it is made once per binary).
        cold.push(ms - l.compressMs);
        upload.push(l.uploadMs);
        const gz = [...Deno.readDirSync(`${localCache}/fusion/deno-upload`)]
          .find((e) => e.name.endsWith(".gz"));
        if (!gz) throw new Error("no local gzip of Deno after an upload");
        byHand.push(await uploadByHand(h, `${localCache}/fusion/deno-upload/${gz.name}`));
      }
      const binMB = Deno.statSync(Deno.execPath()).size / 1e6;
      const c = summarize(cold);
      const b = summarize(byHand);
      report.add({
        section,
        case: "connect cold, uploading Deno p50",
        fusion: c.p50,
        unit: "ms",
        baseline: {
          name: "that gzip by hand: ssh, gunzip, sha256sum, --version",
          value: b.p50,
        },
        ratio: c.p50 / b.p50,
        note: "also uploads the agent",
        detail: { cold: c, byHand: b, runs: cold },
      });
      report.add({
        section,
        case: "  of which upload + server's checks p50",
        fusion: summarize(upload).p50,
        unit: "ms",
        detail: summarize(upload),
      });
      report.add({
        section,
        case: "  sent over SSH (gzip)",
        fusion: sentMB,
        unit: "MB",
        note: `the binary is ${binMB.toFixed(1)} MB`,
      });
      report.add({
        section,
        case: "compress the local Deno (once per binary, cached)",
        fusion: compressMs,
        unit: "ms",
        note: "not counted in the cold connect",
      });
    }

    report.log(`  warm: ${warmRuns} connects of each, interleaved with a host that has Deno`);
    await connect(h, true); // the agent is cached from here on (quick: not uploaded yet)
    await connect(normal, false);
    const zero: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < warmRuns; i++) {
      zero.push(await connect(h, true));
      plain.push(await connect(normal, false));
    }
    const z = summarize(zero);
    const p = summarize(plain);
    report.add({
      section,
      case: "connect warm, uploaded Deno cached p50",
      fusion: z.p50,
      unit: "ms",
      baseline: { name: "connect warm, Deno on PATH", value: p.p50 },
      ratio: z.p50 / p.p50,
      detail: { zeroInstall: z, denoOnPath: p },
    });
  } finally {
    await host?.stop();
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}
