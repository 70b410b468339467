import assert from "node:assert/strict";
import { InvalidNameError } from "../../../src/errors.ts";
import {
  DEFAULT_REGISTRY_PORT,
  isValidNodeName,
  resolveRegistryPort,
  validateNodeName,
} from "../../../src/registry/mod.ts";

Deno.test("node names are name@host with [A-Za-z0-9_.-] and at most 255 bytes", () => {
  for (const ok of ["app@localhost", "web_01.x-y@10.0.1.5", "a@b", "A-Z.0_9@h-1.example"]) {
    assert.ok(isValidNodeName(ok), ok);
    assert.equal(validateNodeName(ok), ok);
  }
  const longest = "a".repeat(255 - "@h".length) + "@h";
  assert.ok(isValidNodeName(longest));
  for (const bad of ["", "app", "@h", "a@", "a@b@c", "a b@h", "a@h/x", "ü@h", longest + "x", 42]) {
    assert.equal(isValidNodeName(bad), false, String(bad));
    assert.throws(() => validateNodeName(bad), InvalidNameError);
  }
});

Deno.test("the registry port comes from the option, else FUSION_REGISTRY_PORT, else 4370", () => {
  const saved = Deno.env.get("FUSION_REGISTRY_PORT");
  try {
    Deno.env.delete("FUSION_REGISTRY_PORT");
    assert.equal(resolveRegistryPort(), DEFAULT_REGISTRY_PORT);
    assert.equal(DEFAULT_REGISTRY_PORT, 4370);
    Deno.env.set("FUSION_REGISTRY_PORT", "4999");
    assert.equal(resolveRegistryPort(), 4999);
    assert.equal(resolveRegistryPort(5123), 5123);
    assert.equal(resolveRegistryPort(0), 0);
    Deno.env.set("FUSION_REGISTRY_PORT", "nope");
    assert.throws(() => resolveRegistryPort(), RangeError);
    assert.equal(resolveRegistryPort(5123), 5123);
    assert.throws(() => resolveRegistryPort(70000), RangeError);
  } finally {
    if (saved === undefined) Deno.env.delete("FUSION_REGISTRY_PORT");
    else Deno.env.set("FUSION_REGISTRY_PORT", saved);
  }
});
