import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { moduleUrl } from "../../../src/code/mod.ts";
import { BundleError } from "../../../src/errors.ts";

Deno.test("moduleUrl() keeps URLs and resolves paths against the working directory", () => {
  const u = new URL("https://example.com/mod.ts");
  assert.equal(moduleUrl(u), u);
  assert.equal(moduleUrl("https://example.com/a.ts").href, "https://example.com/a.ts");
  assert.equal(moduleUrl("file:///srv/a.ts").href, "file:///srv/a.ts");
  assert.equal(moduleUrl("./x/y.ts").href, pathToFileURL(join(Deno.cwd(), "x/y.ts")).href);
  assert.equal(moduleUrl("/abs/z.ts").href, "file:///abs/z.ts");
});

Deno.test("moduleUrl() rejects a malformed URL with a BundleError", () => {
  assert.throws(() => moduleUrl("http://[bad"), BundleError);
});
