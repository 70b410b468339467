import assert from "node:assert/strict";
import { DenoGraph, parseNpmSpecifier } from "../../../src/code/_deno_graph.ts";

const INFO = {
  roots: ["file:///p/main.ts"],
  modules: [
    {
      kind: "esm",
      specifier: "file:///p/main.ts",
      local: "/p/main.ts",
      mediaType: "TypeScript",
      dependencies: [
        { specifier: "./a.ts", code: { specifier: "file:///p/a.ts" } },
        { specifier: "alias", code: { specifier: "file:///p/lib/alias.ts" } },
        { specifier: "jsr:@std/x@^1", code: { specifier: "jsr:@std/x@^1" } },
        { specifier: "npm:ms@^2", code: { specifier: "npm:ms@^2" } },
        { specifier: "npm:@s/pkg@1/sub/x.js", code: { specifier: "npm:@s/pkg@1/sub/x.js" } },
        { specifier: "node:fs", code: { specifier: "node:fs" } },
        { specifier: "./gone.ts", code: { specifier: "file:///p/gone.ts" } },
        { specifier: "bare", code: { error: 'Import "bare" not a dependency' } },
        { specifier: "./types.d.ts", type: { specifier: "file:///p/types.d.ts" } },
      ],
    },
    { kind: "esm", specifier: "file:///p/a.ts", local: "/p/a.ts", mediaType: "TypeScript" },
    {
      kind: "esm",
      specifier: "file:///p/lib/alias.ts",
      local: "/p/lib/alias.ts",
      mediaType: "TSX",
    },
    {
      kind: "esm",
      specifier: "https://jsr.io/@std/x/1.0.0/mod.ts",
      local: "/cache/x",
      mediaType: "TypeScript",
    },
    { kind: "npm", specifier: "npm:/ms@2.1.3", npmPackage: "ms@2.1.3" },
    { kind: "npm", specifier: "npm:/@s/pkg@1.0.0/sub/x.js", npmPackage: "@s/pkg@1.0.0_peer@2.0.0" },
    { kind: "node", specifier: "node:fs" },
    { specifier: "file:///p/gone.ts", error: 'Module not found "file:///p/gone.ts".' },
  ],
  redirects: {
    "jsr:@std/x@^1": "https://jsr.io/@std/x/1.0.0/mod.ts",
    "npm:ms@^2": "npm:/ms@2.1.3",
    "npm:@s/pkg@1/sub/x.js": "npm:/@s/pkg@1.0.0/sub/x.js",
  },
  npmPackages: {
    "ms@2.1.3": {
      name: "ms",
      version: "2.1.3",
      dependencies: [],
      localPath: "/cache/npm/ms/2.1.3",
    },
  },
};

Deno.test("DenoGraph resolves relative, aliased and redirected imports per importer", () => {
  const g = new DenoGraph(INFO);
  assert.equal(g.entry, "file:///p/main.ts");
  const r = g.resolve("file:///p/main.ts", "./a.ts");
  assert.deepEqual(r, {
    kind: "module",
    module: { url: "file:///p/a.ts", local: "/p/a.ts", mediaType: "TypeScript" },
  });
  const alias = g.resolve("file:///p/main.ts", "alias");
  assert.equal(alias?.kind === "module" && alias.module.local, "/p/lib/alias.ts");
  const jsr = g.resolve("file:///p/main.ts", "jsr:@std/x@^1");
  assert.equal(jsr?.kind === "module" && jsr.module.url, "https://jsr.io/@std/x/1.0.0/mod.ts");
  assert.equal(g.resolve("file:///p/a.ts", "./a.ts"), undefined, "dependencies are per importer");
});

Deno.test("DenoGraph reports npm packages by id and subpath, and node: built-ins", () => {
  const g = new DenoGraph(INFO);
  assert.deepEqual(g.resolve("file:///p/main.ts", "npm:ms@^2"), {
    kind: "npm",
    id: "ms@2.1.3",
    name: "ms",
    subpath: "",
  });
  assert.deepEqual(g.resolve("file:///p/main.ts", "npm:@s/pkg@1/sub/x.js"), {
    kind: "npm",
    id: "@s/pkg@1.0.0_peer@2.0.0",
    name: "@s/pkg",
    subpath: "/sub/x.js",
  });
  assert.deepEqual(g.resolve("file:///p/main.ts", "node:fs"), {
    kind: "node",
    specifier: "node:fs",
  });
  assert.equal(g.npmPackages.get("ms@2.1.3")?.localPath, "/cache/npm/ms/2.1.3");
});

Deno.test("DenoGraph turns missing modules, unmapped and type-only imports into errors", () => {
  const g = new DenoGraph(INFO);
  const gone = g.resolve("file:///p/main.ts", "./gone.ts");
  assert.equal(gone?.kind, "error");
  assert.match(gone?.kind === "error" ? gone.message : "", /Module not found/);
  assert.equal(g.resolve("file:///p/main.ts", "bare")?.kind, "error");
  assert.equal(g.resolve("file:///p/main.ts", "./types.d.ts")?.kind, "error");
});

Deno.test("parseNpmSpecifier() splits names, scopes and subpaths", () => {
  assert.deepEqual(parseNpmSpecifier("npm:/ms@2.1.3"), { name: "ms", subpath: "" });
  assert.deepEqual(parseNpmSpecifier("npm:ms@^2/x"), { name: "ms", subpath: "/x" });
  assert.deepEqual(parseNpmSpecifier("npm:/@a/b@1.0.0/c/d.js"), {
    name: "@a/b",
    subpath: "/c/d.js",
  });
  assert.equal(parseNpmSpecifier("npm:nover"), undefined);
});
