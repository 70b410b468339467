import assert from "node:assert/strict";
import { exposedTunnelsWarning } from "../../../src/remote/connection_warning.ts";

const PORTS = { registry: 40001, hub: 40002, host: "web-01", node: "web01@localhost" };

Deno.test("exposedTunnelsWarning() names each exposed tunnel", () => {
  const w = exposedTunnelsWarning([
    { address: "0.0.0.0", port: 40001 },
    { address: "::", port: 40002 },
  ], PORTS);
  assert.ok(w);
  assert.equal(w.code, "exposed_tunnels");
  assert.equal(w.host, "web-01");
  assert.equal(w.node, "web01@localhost");
  assert.deepEqual(w.tunnels, [
    { tunnel: "registry", address: "0.0.0.0", port: 40001 },
    { tunnel: "hub", address: "::", port: 40002 },
  ]);
  assert.match(w.message, /on 0\.0\.0\.0, ::, ports 40001 \(registry\), 40002 \(hub\);/);
  assert.match(w.message, /GatewayPorts/);
  assert.ok(!w.message.includes("\n"));
});

Deno.test("exposedTunnelsWarning() gives nothing for no report, other ports or garbage", () => {
  for (
    const reported of [
      undefined,
      null,
      [],
      "0.0.0.0",
      [{ address: "0.0.0.0", port: 22 }],
      [{ address: "0.0.0.0\u001b[2J", port: 40001 }],
      [{ address: 7, port: 40001 }],
      [null, 1, "x"],
    ]
  ) {
    assert.equal(exposedTunnelsWarning(reported, PORTS), undefined, JSON.stringify(reported));
  }
});
