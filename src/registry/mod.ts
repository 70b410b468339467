/**
 * The port mapper (epmd's role): node name → port on 127.0.0.1. A
 * registration, proven with the cookie or the name's ticket, lives as long as
 * its TCP connection. Lookups need the cookie or a valid ticket, listings the
 * cookie, each proven over a fresh nonce. Any cookie-holding
 * node hosts the registry in-process when none answers, and the survivors
 * take over when its host goes away.
 * @module
 */
export {
  keepRegistered,
  type KeepRegisteredOptions,
  type Registration,
} from "./keep_registered.ts";
export { lookup, names, type RegistryQueryOptions } from "./lookup.ts";
export { isValidNodeName, MAX_NODE_NAME_BYTES, validateNodeName } from "./node_name.ts";
export { register, type RegisterOptions, type RegistryLease } from "./register.ts";
export {
  QUERY_CONTEXT,
  type QueryClaim,
  queryKey,
  queryProof,
  REGISTER_CONTEXT,
  type RegistrationClaim,
  registrationProof,
} from "./registration_proof.ts";
export { DEFAULT_REGISTRY_PORT, resolveRegistryPort } from "./registry_port.ts";
export {
  type RegistryEntry,
  RegistryServer,
  type RegistryServerOptions,
} from "./registry_server.ts";
