// A tiny server for the raw baselines, run on the server with `deno eval`: it prints
// its port, then per connection reads one mode byte: "e" echoes length-prefixed
// frames back; "s" reads an 8-byte big-endian total and answers one byte once that
// many bytes have arrived.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
for await (const conn of listener) serve(conn).catch(() => {}).finally(() => conn.close());
async function serve(conn) {
  conn.setNoDelay(true);
  const buf = new Uint8Array(1 << 20);
  let have = 0;
  let mode = 0;
  let total = -1;
  let count = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) return;
    have += n;
    let off = 0;
    if (mode === 0) {
      mode = buf[0];
      off = 1;
    }
    if (mode === 0x73) {
      if (total < 0) {
        if (have - off < 8) {
          buf.copyWithin(0, off, have);
          have -= off;
          continue;
        }
        total = Number(new DataView(buf.buffer, off, 8).getBigUint64(0));
        off += 8;
      }
      count += have - off;
      have = 0;
      if (count >= total) {
        await conn.write(new Uint8Array([1]));
        count = 0;
        total = -1;
      }
      continue;
    }
    let end = off;
    while (have - end >= 4) {
      const len = new DataView(buf.buffer, end, 4).getUint32(0);
      if (have - end - 4 < len) break;
      end += 4 + len;
    }
    if (end > off) {
      const out = buf.slice(off, end);
      buf.copyWithin(0, end, have);
      have -= end;
      let w = 0;
      while (w < out.length) w += await conn.write(out.subarray(w));
    } else if (off > 0) {
      buf.copyWithin(0, off, have);
      have -= off;
    }
  }
}
