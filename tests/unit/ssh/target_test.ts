import assert from "node:assert/strict";
import { TargetError } from "../../../src/errors.ts";
import { formatTarget, parseTarget } from "../../../src/ssh/mod.ts";

Deno.test("parseTarget() reads host, user@host, host:port and user@host:port", () => {
  assert.deepEqual(parseTarget("web-01"), { host: "web-01" });
  assert.deepEqual(parseTarget("deploy@10.0.1.5"), { host: "10.0.1.5", username: "deploy" });
  assert.deepEqual(parseTarget("example.com:2222"), { host: "example.com", port: 2222 });
  assert.deepEqual(parseTarget("deploy@10.0.1.5:22"), {
    host: "10.0.1.5",
    port: 22,
    username: "deploy",
  });
});

Deno.test("parseTarget() reads [ipv6]:port, bare IPv6 and zone ids", () => {
  assert.deepEqual(parseTarget("[::1]:2222"), { host: "::1", port: 2222 });
  assert.deepEqual(parseTarget("root@[fe80::1%eth0]:22"), {
    host: "fe80::1%eth0",
    port: 22,
    username: "root",
  });
  assert.deepEqual(parseTarget("[2001:db8::5]"), { host: "2001:db8::5" });
  assert.deepEqual(parseTarget("2001:db8::5"), { host: "2001:db8::5" });
  assert.deepEqual(parseTarget("u@::1"), { host: "::1", username: "u" });
});

Deno.test("parseTarget() accepts ssh:// URLs and splits the user at the last @", () => {
  assert.deepEqual(parseTarget("ssh://deploy@web:2200"), {
    host: "web",
    port: 2200,
    username: "deploy",
  });
  assert.deepEqual(parseTarget("a@b@host"), { host: "host", username: "a@b" });
});

Deno.test("parseTarget() rejects malformed targets with TargetError", () => {
  const bad = [
    "",
    " host",
    "host ",
    "@host",
    "user@",
    "host:",
    "host:abc",
    "host:0",
    "host:65536",
    "host:99999999",
    "host:22:33",
    "[::1",
    "[::1]x",
    "[::1]:",
    "-oProxyCommand=evil",
    "user@-host",
    "-user@host",
    "ho st",
    "host\n",
    "ho\x00st",
    "host;rm",
    "ho$t",
    "user@host/path",
    ".",
    "a..b:x",
  ];
  for (const spec of bad) {
    assert.throws(
      () => parseTarget(spec),
      TargetError,
      `expected TargetError for ${JSON.stringify(spec)}`,
    );
  }
});

Deno.test("parseTarget() errors name the input and what is wrong", () => {
  assert.throws(() => parseTarget("deploy@web:abc"), /"deploy@web:abc".*port "abc"/);
  assert.throws(() => parseTarget("web:70000"), /port must be 1-65535/);
});

Deno.test("parseTarget() rejects non-strings", () => {
  assert.throws(() => parseTarget(42 as unknown as string), TargetError);
});

Deno.test("formatTarget() brackets IPv6 hosts", () => {
  assert.equal(formatTarget({ host: "::1", port: 22, username: "u" }), "u@[::1]:22");
  assert.equal(formatTarget({ host: "web" }), "web");
});
