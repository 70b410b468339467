import { builtinModules } from "node:module";

const BUILTINS = new Set(builtinModules.map((m) => m.replace(/^node:/, "")));

/**
 * The `node:` specifier for a Node built-in named with or without the prefix
 * ("fs", "node:fs", "fs/promises"), else undefined. Built-ins win over npm
 * packages of the same name, as in Node.
 */
export function nodeBuiltin(specifier: string): string | undefined {
  if (specifier.startsWith("node:")) return specifier;
  return BUILTINS.has(specifier) ? `node:${specifier}` : undefined;
}
