/**
 * The local side of a remote node: connect, tunnels, agent upload and start, disconnect.
 * @module
 */
export {
  connect,
  type ConnectionStatus,
  type ConnectOptions,
  NodeManager,
  type NodeManagerOptions,
} from "./node_manager.ts";
export { type AgentInfo, RemoteNode } from "./remote_node.ts";
export { type ConnectionWarning, type ExposedTunnel } from "./connection_warning.ts";
export { type AgentBundle, agentBundle } from "./agent_bundle.ts";
