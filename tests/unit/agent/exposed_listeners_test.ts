import assert from "node:assert/strict";
import { exposedInProcNet, exposedListeners } from "../../../src/agent/exposed_listeners.ts";

const HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n";
// Port 0x9C41 = 40001, 0x9C42 = 40002; little-endian words as x86 and arm64 print them.
const V4 = HEAD + [
  "   0: 0100007F:9C41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
  "   1: 00000000:9C41 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
  "   2: 0500000A:9C42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
  "   3: 00000000:9C43 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
  "   4: 00000000:9C42 0100007F:D75E 01 00000000:00000000 00:00000000 00000000     0",
  "   5: 0200007F:9C42 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0",
].join("\n");
const V6 = HEAD + [
  // ::1, ::, ::ffff:127.0.0.1, ::ffff:10.0.0.5, fe80::1
  "   0: 00000000000000000000000001000000:9C41 00000000000000000000000000000000:0000 0A 0",
  "   1: 00000000000000000000000000000000:9C41 00000000000000000000000000000000:0000 0A 0",
  "   2: 0000000000000000FFFF00000100007F:9C42 00000000000000000000000000000000:0000 0A 0",
  "   3: 0000000000000000FFFF00000500000A:9C42 00000000000000000000000000000000:0000 0A 0",
  "   4: 000080FE000000000000000001000000:9C42 00000000000000000000000000000000:0000 0A 0",
].join("\n");
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

Deno.test({
  name: "exposedInProcNet() finds listeners on the given ports beyond loopback, IPv4 and IPv6",
  ignore: !LE,
  fn() {
    assert.deepEqual(exposedInProcNet(V4, [40001, 40002]), [
      { address: "0.0.0.0", port: 40001 },
      { address: "10.0.0.5", port: 40002 },
    ]);
    assert.deepEqual(exposedInProcNet(V6, [40001, 40002]), [
      { address: "::", port: 40001 },
      { address: "::ffff:a00:5", port: 40002 },
      { address: "fe80::1", port: 40002 },
    ]);
    assert.deepEqual(exposedInProcNet(V4, [40005]), []);
  },
});

Deno.test("exposedInProcNet() ignores garbage", () => {
  for (const text of ["", "\n\n", "x y z 0A", "0: zz:9C41 0 0A", "0: 0100:9C41 0 0A"]) {
    assert.deepEqual(exposedInProcNet(text, [40001]), []);
  }
});

Deno.test("exposedListeners() reads this machine's /proc: a listener on 127.0.0.1 is not exposed", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (l.addr as Deno.NetAddr).port;
    assert.deepEqual(await exposedListeners([port, 0]), []);
    assert.deepEqual(await exposedListeners([0]), []);
  } finally {
    l.close();
  }
});
