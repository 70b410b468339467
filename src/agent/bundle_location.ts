/** Where the prebuilt agent bundle lives: built by `deno task build:agent`, uploaded by connect(). */
export const AGENT_BUNDLE_URL: URL = new URL("./_bundle.js", import.meta.url);
