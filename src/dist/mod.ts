/**
 * Node-to-node connections over any transport: handshake, ticks, control messages.
 * @module
 */
export {
  Connection,
  type ConnectionHandlers,
  type ConnectionOptions,
  openConnection,
} from "./connection.ts";
export {
  type ControlMessage,
  decodeControl,
  destinationNode,
  encodeControl,
  type Named,
  OP,
  sourceNode,
} from "./control.ts";
export { FailureDelay, type FailureDelayOptions } from "./failure_delay.ts";
export { cookieKey, type Credentials, hmac, macEqual, proofKey, ticketFor } from "./credentials.ts";
export {
  Handshake,
  type HandshakeOptions,
  HandshakeRefusedError,
  type HandshakeResult,
  type HandshakeRole,
  type HandshakeStep,
  PROTOCOL_VERSIONS,
} from "./handshake.ts";
export {
  tcpConnect,
  type TcpConnectOptions,
  tcpListen,
  type TcpListener,
  type TcpListenOptions,
} from "./tcp.ts";
export {
  duplexTransport,
  memoryTransportPair,
  type Transport,
  type TransportHandlers,
} from "./transport.ts";
