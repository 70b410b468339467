/**
 * Test support: real OpenSSH sshd hosts (on 127.0.0.1 or in network
 * namespaces), keys, throwaway users and ssh-agents.
 * @module
 */
export * from "./sshd.ts";
export * from "./netns.ts";
export * from "./agent.ts";
export * from "./keys.ts";
export * from "./users.ts";
export { sleep, within } from "./_proc.ts";
