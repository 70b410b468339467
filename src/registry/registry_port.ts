/** The registry's default port on 127.0.0.1, like epmd's 4369. */
export const DEFAULT_REGISTRY_PORT = 4370;

/**
 * The registry port to use: `port` when given, else `FUSION_REGISTRY_PORT`,
 * else 4370. A malformed environment value throws `RangeError`; without env
 * permission the variable is ignored.
 */
export function resolveRegistryPort(port?: number): number {
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`registry port must be an integer 0-65535, not ${port}`);
    }
    return port;
  }
  let env: string | undefined;
  try {
    env = Deno.env.get("FUSION_REGISTRY_PORT");
  } catch {
    env = undefined;
  }
  if (env === undefined || env === "") return DEFAULT_REGISTRY_PORT;
  const n = Number(env);
  if (!/^[0-9]+$/.test(env) || n < 1 || n > 65535) {
    throw new RangeError(`FUSION_REGISTRY_PORT must be a port number 1-65535, not "${env}"`);
  }
  return n;
}
