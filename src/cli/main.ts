/**
 * The `fusion` command: `deno task fusion …`, or installed with
 * `deno install -g -A -n fusion src/cli/main.ts`. See docs/CLI.md.
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };
import { InputError, parseArgs, UsageError } from "./args.ts";
import {
  type CliIo,
  EXIT,
  hostCommand,
  isUsageError,
  namesCommand,
  registryCommand,
} from "./commands.ts";
import { helpText } from "./help.ts";

/** The process's own stdout/stderr, terminal and signals. */
export function processIo(): CliIo {
  const enc = new TextEncoder();
  const writeAll = (f: typeof Deno.stdout, text: string) => {
    const bytes = enc.encode(text);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
  };
  const tty = Deno.stdout.isTerminal();
  return {
    stdout: (t) => writeAll(Deno.stdout, t),
    stderr: (t) => writeAll(Deno.stderr, t),
    tty,
    size: () => {
      try {
        return Deno.consoleSize();
      } catch {
        return { columns: 80, rows: 24 };
      }
    },
    onInterrupt(handler) {
      Deno.addSignalListener("SIGINT", handler);
      Deno.addSignalListener("SIGTERM", handler);
      return () => {
        Deno.removeSignalListener("SIGINT", handler);
        Deno.removeSignalListener("SIGTERM", handler);
      };
    },
    exit(code): never {
      if (tty) writeAll(Deno.stdout, "\x1b[?25h");
      Deno.exit(code);
    },
  };
}

/** Runs `fusion` with `argv`; resolves with the exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const verbose = argv.includes("-v") || argv.includes("--verbose");
  try {
    const { command, options } = parseArgs(argv);
    switch (command.name) {
      case "help":
        io.stdout(helpText(command.topic));
        return EXIT.ok;
      case "version":
        io.stdout(`fusion ${denoJson.version} (deno ${Deno.version.deno})\n`);
        return EXIT.ok;
      case "names":
        return await namesCommand(options, io);
      case "registry":
        return await registryCommand(options, io);
      case "demo": {
        const { runDemo } = await import("./demo.ts");
        await runDemo({ log: (line: string) => io.stdout(line + "\n") });
        return EXIT.ok;
      }
      default:
        return await hostCommand(command, options, io);
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    const usage = isUsageError(err);
    const first = err.message.split("\n")[0];
    const hint = err instanceof UsageError
      ? ` (see fusion ${err.command ? `${err.command} ` : ""}--help)`
      : "";
    const name = usage || err instanceof InputError ? "" : `${err.name}: `;
    io.stderr(`fusion: ${name}${first}${hint}\n`);
    if (verbose && err.stack) io.stderr(err.stack + "\n");
    return usage ? EXIT.usage : EXIT.failed;
  }
}

if (import.meta.main) {
  const io = processIo();
  io.exit(await main(Deno.args, io));
}
