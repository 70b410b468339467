import assert from "node:assert/strict";
import {
  InventoryError,
  loadInventory,
  parseInventory,
  resolveHosts,
} from "../../../src/cli/inventory.ts";
import { TargetError } from "../../../src/errors.ts";

const TOML = `
[defaults]
user = "deploy"
key = "keys/id_ed25519"
hostKeys = "accept-new"

[hosts.web-01]
host = "10.0.1.5"
port = 2201
deno = "/opt/deno/bin/deno"

[hosts.web-02]
host = "10.0.1.6"
user = "ops"
key = "~/.ssh/ops"
knownHosts = ["/etc/ssh/known", "known_hosts"]

[hosts]
db-01 = "admin@10.0.2.1:2200"
bastioned = { host = "10.9.9.9", proxyJump = "jump", sshBackend = "system" }

[groups]
web = ["web-01", "web-02"]
db = ["db-01"]
prod = ["@web", "@db", "web-01"]
`;

Deno.test("parseInventory reads a TOML inventory: defaults, hosts, settings and groups", () => {
  const inv = parseInventory(TOML, { path: "/etc/fusion/hosts.toml" });
  assert.deepEqual([...inv.hosts.keys()], ["web-01", "web-02", "db-01", "bastioned"]);
  assert.deepEqual(inv.hosts.get("web-01"), {
    host: "10.0.1.5",
    port: 2201,
    username: "deploy",
    auth: { key: "/etc/fusion/keys/id_ed25519" },
    deno: "/opt/deno/bin/deno",
    hostKeys: { policy: "accept-new" },
  });
  assert.deepEqual(inv.hosts.get("web-02"), {
    host: "10.0.1.6",
    username: "ops",
    auth: { key: "~/.ssh/ops" },
    hostKeys: { policy: "accept-new", knownHosts: ["/etc/ssh/known", "/etc/fusion/known_hosts"] },
  });
  assert.deepEqual(inv.hosts.get("db-01"), {
    host: "10.0.2.1",
    port: 2200,
    username: "admin",
    auth: { key: "/etc/fusion/keys/id_ed25519" },
    hostKeys: { policy: "accept-new" },
  });
  assert.equal(inv.hosts.get("bastioned")?.proxyJump, "jump");
  assert.equal(inv.hosts.get("bastioned")?.sshBackend, "system");
  assert.deepEqual(inv.groups.get("prod"), ["web-01", "web-02", "db-01"]);
  assert.deepEqual(inv.groups.get("all"), ["web-01", "web-02", "db-01", "bastioned"]);
});

Deno.test("parseInventory reads the same inventory as JSON", () => {
  const json = JSON.stringify({
    defaults: { user: "deploy" },
    hosts: { "web-01": { host: "10.0.1.5", port: 2201 }, "web-02": "10.0.1.6" },
    groups: { web: ["web-01", "web-02"] },
  });
  const inv = parseInventory(json, { path: "inv.json" });
  assert.deepEqual(inv.hosts.get("web-01"), { host: "10.0.1.5", port: 2201, username: "deploy" });
  assert.deepEqual(inv.hosts.get("web-02"), { host: "10.0.1.6", username: "deploy" });
  assert.deepEqual(inv.groups.get("web"), ["web-01", "web-02"]);
  // Without an extension the text decides.
  assert.equal(parseInventory(json).hosts.size, 2);
});

Deno.test("a host entry without host uses its name as the address or ssh alias", () => {
  const inv = parseInventory("[hosts.web-01]\nport = 22\n");
  assert.deepEqual(inv.hosts.get("web-01"), { host: "web-01", port: 22 });
});

Deno.test("parseInventory refuses mistakes with one line naming the file and entry", () => {
  const cases: [string, RegExp][] = [
    ["[hosts.a]\nport = \n", /inventory x\.toml: not valid TOML: line 2/],
    ["[hosts.a]\nprot = 22\n", /host "a": unknown setting "prot"/],
    ["[hosts.a]\nport = 70000\n", /host "a": "port" must be a number 1-65535/],
    ['[hosts.a]\nport = "22"\n', /"port" must be a number/],
    ['[hosts.a]\nhost = "bad host"\n', /host "a": malformed target/],
    ['[hosts.a]\nhostKeys = "trust"\n', /"hostKeys" must be one of strict, accept-new, insecure/],
    ['[hosts.a]\nsshBackend = "putty"\n', /"sshBackend" must be "ssh2" or "system"/],
    ["[hosts.a]\nknownHosts = []\n", /"knownHosts" must be a path or a list/],
    ['[hosts.a]\nuser = "bad user"\n', /invalid user/],
    ['[hosts]\na = "user@"\n', /host "a": malformed target/],
    ["[hosts]\na = 5\n", /host "a" must be a table of settings or a "user@host:port" string/],
    ['[hosts."bad name"]\n', /host name "bad name" may only use/],
    ["[hosts.all]\n", /"all" is reserved/],
    ['[groups]\nweb = ["ghost"]\n', /group "web": unknown host "ghost"/],
    ['[groups]\nweb = ["@nope"]\n', /group "web": unknown group "@nope"/],
    ['[groups]\na = ["@b"]\nb = ["@a"]\n', /groups refer to each other: a → b → a/],
    ['[groups]\nweb = "x"\n', /group "web" must be a list/],
    ["[servers]\n", /unknown top-level key "servers"/],
    ["[defaults]\nprot = 1\n", /defaults: unknown setting "prot"/],
  ];
  for (const [text, message] of cases) {
    assert.throws(
      () => parseInventory(text, { path: "x.toml" }),
      (e: unknown) =>
        e instanceof InventoryError && message.test(e.message) && !e.message.includes("\n"),
      text,
    );
  }
  assert.throws(
    () => parseInventory("{ nope", { path: "x.json" }),
    (e: unknown) => e instanceof InventoryError && /not valid JSON/.test(e.message),
  );
  assert.throws(
    () => parseInventory("[1]", { path: "x.json" }),
    (e: unknown) => e instanceof InventoryError && /top level must be an object/.test(e.message),
  );
});

Deno.test("loadInventory says when the file cannot be read", async () => {
  await assert.rejects(
    loadInventory("/nonexistent/fusion-inventory.toml"),
    (e: unknown) => e instanceof InventoryError && /cannot read inventory/.test(e.message),
  );
});

Deno.test("resolveHosts expands groups and inventory names, parses the rest, drops repeats", () => {
  const inv = parseInventory(TOML, { path: "/etc/fusion/hosts.toml" });
  const hosts = resolveHosts("@web,db-01,ops@10.0.0.7:2222,web-01,some-alias", inv);
  assert.deepEqual(hosts.map((h) => h.label), [
    "web-01",
    "web-02",
    "db-01",
    "ops@10.0.0.7:2222",
    "some-alias",
  ]);
  assert.deepEqual(hosts[3]?.target, { host: "10.0.0.7", port: 2222, username: "ops" });
  assert.deepEqual(hosts[4]?.target, { host: "some-alias" });
  assert.deepEqual(resolveHosts("@all", inv).map((h) => h.label), [...inv.hosts.keys()]);
  // Targets are copies: changing one leaves the inventory as it was.
  hosts[0]!.target.port = 1;
  assert.equal(inv.hosts.get("web-01")?.port, 2201);
});

Deno.test("resolveHosts refuses malformed specs and unknown groups", () => {
  const inv = parseInventory(TOML);
  assert.throws(() => resolveHosts("a,,b", inv), TargetError);
  assert.throws(() => resolveHosts("a,", inv), TargetError);
  assert.throws(() => resolveHosts("bad host", inv), TargetError);
  assert.throws(() => resolveHosts("h:0", inv), TargetError);
  assert.throws(
    () => resolveHosts("@nope", inv),
    (e: unknown) => e instanceof InventoryError && /unknown group @nope/.test(e.message),
  );
  assert.throws(
    () => resolveHosts("@web"),
    (e: unknown) => e instanceof InventoryError && /groups need an inventory/.test(e.message),
  );
});
