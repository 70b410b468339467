/**
 * Processes: pids, mailboxes with selective receive, spawn, send, links,
 * monitors, exit signals and registered names.
 * @module
 */
export {
  ActorSystem,
  type ActorSystemOptions,
  errorReason,
  type ExitKind,
  type NamedTarget,
  type RemoteRouter,
} from "./actor_system.ts";
export { Mailbox, type MailboxOptions, type ReceiveOptions } from "./mailbox.ts";
export type {
  ActorContext,
  ActorFn,
  Destination,
  DownMessage,
  ExitMessage,
  ExitReason,
  Inbox,
  MonitorTarget,
} from "./types.ts";
export { Pid } from "../wire/pid.ts";
export { Ref } from "../wire/ref.ts";
