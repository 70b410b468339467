/** Shared set-up of the hardening tests that run against a real sshd, through the fault relay. */
import {
  hostTest,
  type HostTestContext,
  type HostTestOptions,
  unavailable,
} from "../support/host_test.ts";
import { COOKIE } from "./_helpers.ts";

export { unavailable };

/** What a remote test gets. */
export type RemoteContext = HostTestContext;

/** Options for {@linkcode remoteTest}. */
export type RemoteTestOptions = HostTestOptions;

/** A {@linkcode hostTest} whose hub holds the hardening tests' cookie. */
export function remoteTest(
  name: string,
  options: RemoteTestOptions,
  fn: (c: RemoteContext) => Promise<void>,
): void {
  hostTest(name, { cookie: COOKIE, ...options }, fn);
}

/** The fixture module pushed to agents. */
export const REMOTE_CODE: URL = new URL("./_fixtures/remote_code.ts", import.meta.url);
