/**
 * Fusion: a remote task runner and actor runtime for Deno. It connects to
 * servers over SSH, tunnels a small distribution protocol through that
 * connection, starts a Deno agent there, and lets you exchange messages with
 * actors on it, the way Erlang distribution does.
 *
 * @example Two actors on one node
 * ```ts
 * import { Node } from "./mod.ts";
 * await using node = await Node.start({ name: "app", registryPort: 0 });
 * const inbox = node.inbox();
 * const echo = node.spawn(async (ctx) => {
 *   const m = await ctx.receive<{ from: import("./mod.ts").Pid }>();
 *   ctx.send(m.from, "hi");
 * });
 * node.send(echo, { from: inbox.self });
 * console.log(await inbox.receive({ timeoutMs: 1000 })); // "hi"
 * ```
 * @module
 */
export { fullNodeName, Node } from "./src/node.ts";
export type {
  NodeDownListener,
  NodeOptions,
  NodeUpListener,
  RequestOptions,
  ServeOptions,
  Service,
  ServiceContext,
} from "./src/node.ts";
export { Pid } from "./src/wire/pid.ts";
export { Ref } from "./src/wire/ref.ts";
export type {
  ActorContext,
  ActorFn,
  Destination,
  DownMessage,
  ExitMessage,
  ExitReason,
  Inbox,
  MonitorTarget,
} from "./src/actor/types.ts";
export type { ReceiveOptions } from "./src/actor/mailbox.ts";
export { DEFAULT_LIMITS, type Limits } from "./src/limits.ts";
export {
  AuthenticationError,
  AuthError,
  BootstrapError,
  BundleError,
  ConnectError,
  FusionError,
  type FusionErrorOptions,
  HostKeyError,
  InvalidNameError,
  NameTakenError,
  NodeDownError,
  NoProcError,
  ProtocolError,
  RemoteError,
  TargetError,
  TimeoutError,
} from "./src/errors.ts";
export {
  type AgentAuth,
  type HostKeyOptions,
  type HostKeyPolicy,
  type KeyAuth,
  parseTarget,
  type PasswordAuth,
  type SshBackendKind,
  type Target,
  type TargetAuth,
} from "./src/ssh/mod.ts";
export {
  type AgentInfo,
  connect,
  type ConnectionStatus,
  type ConnectionWarning,
  type ConnectOptions,
  type ExposedTunnel,
  NodeManager,
  type NodeManagerOptions,
  RemoteNode,
} from "./src/remote/mod.ts";
export {
  type HostResult,
  type HostTask,
  type NodeRef,
  pushModule,
  pushModules,
  run,
  runFun,
  runMany,
  type RunManyOptions,
  type RunManyResults,
  spawn,
} from "./src/task_runner.ts";
export type {
  IsolatePermissions,
  ModuleRef,
  PermissionValue,
  PushResult,
  RunOptions,
  SpawnOptions,
} from "./src/remote/code_client.ts";
export type { RemoteModule } from "./src/remote/remote_node.ts";
// Supervisors: OTP's supervision trees over local and remote actors (docs/SUPERVISORS.md).
export {
  type ChildInfo,
  type ChildSpec,
  type ChildSpecBase,
  type ChildStatus,
  type LocalChildSpec,
  type ReconnectOptions,
  type RemoteChildSpec,
  type RestartType,
  type Strategy,
  supervise,
  type SuperviseOptions,
  Supervisor,
  type SupervisorEvent,
  type SupervisorExit,
} from "./src/supervisor/mod.ts";
