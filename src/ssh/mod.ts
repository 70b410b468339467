/**
 * The SSH layer: targets, the `SshBackend` interface and its two backends
 * (`ssh2`, default, and `system`, the OpenSSH binary with a ControlMaster),
 * ssh config aliases, known_hosts and credentials.
 * @module
 */
export {
  type AgentAuth,
  formatTarget,
  type HostKeyOptions,
  type HostKeyPolicy,
  type KeyAuth,
  parseTarget,
  type PasswordAuth,
  type SshBackendKind,
  type Target,
  type TargetAuth,
} from "./target.ts";
export type {
  ConnectedTo,
  ExecChannel,
  ExecExit,
  ExecOptions,
  ForwardOptions,
  ForwardTunnel,
  ReverseOptions,
  ReverseTunnel,
  SshBackend,
  SshCloseInfo,
  UploadOptions,
} from "./backend.ts";
export { connectSsh, type SshConnectOptions } from "./connect.ts";
export { type HostKeyErrorDetails, hostKeyErrorDetails } from "./host_key.ts";
export { fingerprint, knownHostsName } from "./known_hosts.ts";
export {
  type Credential,
  type ResolvedTarget,
  resolveTarget,
  type ResolveTargetOptions,
} from "./resolve.ts";
export {
  resolveSshConfig,
  type ResolveSshConfigOptions,
  type SshConfigHost,
} from "./ssh_config.ts";
export { ssh2 } from "./ssh2_module.ts";
