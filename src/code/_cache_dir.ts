/** Fusion's local cache folder: $XDG_CACHE_HOME/fusion, else ~/.cache/fusion. */
export function fusionCacheDir(): string {
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/fusion`;
  return `${Deno.env.get("HOME") ?? "/tmp"}/.cache/fusion`;
}
