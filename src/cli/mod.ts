/**
 * The `fusion` command line: argument parsing, inventories, fan-out and
 * reporting. The entry point is `main.ts`.
 * @module
 */
export {
  type Command,
  type CommandName,
  COMMANDS,
  type GlobalOptions,
  InputError,
  parseArgs,
  type ParseArgsOptions,
  type ParsedArgs,
  UsageError,
} from "./args.ts";
export {
  type HostEntry,
  type Inventory,
  InventoryError,
  loadInventory,
  parseInventory,
  type ParseInventoryOptions,
  resolveHosts,
} from "./inventory.ts";
export { parseToml, TomlError } from "./toml.ts";
export {
  fanOut,
  type FanOutOptions,
  type HostContext,
  type HostState,
  type HostWork,
} from "../fan_out.ts";
export { type CliIo, EXIT, ExitStatusError, type ShellResult } from "./commands.ts";
export { main, processIo } from "./main.ts";
