import assert from "node:assert/strict";
import { nodeBuiltin } from "../../../src/code/_node_builtins.ts";

Deno.test("nodeBuiltin() maps built-in names with or without node: to node: specifiers", () => {
  assert.equal(nodeBuiltin("fs"), "node:fs");
  assert.equal(nodeBuiltin("fs/promises"), "node:fs/promises");
  assert.equal(nodeBuiltin("node:path"), "node:path");
  assert.equal(nodeBuiltin("tty"), "node:tty");
});

Deno.test("nodeBuiltin() leaves npm package names and paths alone", () => {
  assert.equal(nodeBuiltin("ms"), undefined);
  assert.equal(nodeBuiltin("./fs"), undefined);
  assert.equal(nodeBuiltin("fs/unknown"), undefined);
});
