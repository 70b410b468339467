/**
 * Supervisors: OTP's supervision trees over local and remote actors. A
 * supervisor is an actor that starts its children, watches them through
 * links, and restarts them by strategy and restart type within a restart
 * intensity; remote children are restarted on their server once it can be
 * reached again.
 * @module
 */
export { supervise } from "./supervise.ts";
export { Supervisor } from "./supervisor.ts";
export type {
  ChildInfo,
  ChildSpec,
  ChildSpecBase,
  ChildStatus,
  LocalChildSpec,
  ReconnectOptions,
  RemoteChildSpec,
  RestartType,
  Strategy,
  SuperviseOptions,
  SupervisorEvent,
  SupervisorExit,
} from "./types.ts";
