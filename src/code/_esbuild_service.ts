import * as esbuild from "esbuild";

let active = 0;
let stopping: Promise<void> | undefined;

/**
 * Runs `fn` with esbuild's service and stops the service (a child process)
 * when the last concurrent user is done, so nothing keeps the process alive
 * or leaks into test sanitizers.
 */
export async function withEsbuild<T>(fn: (api: typeof esbuild) => Promise<T>): Promise<T> {
  while (stopping) await stopping;
  active++;
  try {
    return await fn(esbuild);
  } finally {
    if (--active === 0) {
      stopping = Promise.resolve(esbuild.stop()).finally(() => {
        stopping = undefined;
      });
      await stopping;
    }
  }
}
