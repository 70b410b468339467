import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type FileStamp,
  stampsValid,
  stampThenRead,
  takeStamp,
} from "../../../src/code/_file_stamps.ts";

// Read through a call: the stamp's folder changes behind TypeScript's narrowing.
const dirOf = (s: FileStamp) => s.dir;

Deno.test("a stamp stays valid for an untouched file and fails after a same-size edit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = join(dir, "a.ts");
    await Deno.writeTextFile(f, "export const v = 1;\n");
    const { stamp, bytes } = stampThenRead(f);
    assert.equal(new TextDecoder().decode(bytes), "export const v = 1;\n");
    assert.ok(stamp.hash, "a file written just now is verified by content");
    assert.ok(stampsValid([stamp]));
    await Deno.writeTextFile(f, "export const v = 2;\n");
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an old file is checked by size and mtime only, and any change of them invalidates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = join(dir, "old.ts");
    await Deno.writeTextFile(f, "x");
    const past = new Date(Date.now() - 60_000);
    await Deno.utime(f, past, past);
    const stamp = takeStamp(f);
    assert.equal(stamp.hash, undefined);
    assert.ok(stampsValid([stamp]));
    const later = new Date(Date.now() - 30_000);
    await Deno.utime(f, later, later);
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stamp of a missing file fails once the file appears", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = join(dir, "deno.json");
    const stamp = takeStamp(f);
    assert.equal(stamp.size, -1);
    assert.ok(stampsValid([stamp]));
    await Deno.writeTextFile(f, "{}");
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a racy stamp drops its content hash once verified long after its mtime", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = join(dir, "r.ts");
    await Deno.writeTextFile(f, "y");
    const stamp = takeStamp(f);
    assert.ok(stamp.hash);
    assert.ok(stampsValid([stamp], Date.now() + 5_000));
    assert.equal(stamp.hash, undefined);
    assert.ok(stampsValid([stamp]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// "Quiet" is judged on the folder's ctime, which only the clock can make old (whole seconds in Deno).
const QUIET_WAIT_MS = 2_100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a missing file in a quiet folder is proven by the folder's stamp, and its creation still invalidates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await sleep(QUIET_WAIT_MS);
    const f = join(dir, "deno.json");
    const stamp = takeStamp(f);
    assert.equal(stamp.size, -1);
    assert.ok(stamp.dir, "a quiet folder vouches for its missing files");
    assert.ok(stampsValid([stamp]));
    await Deno.writeTextFile(f, "{}");
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing file survives an unrelated file added beside it, and the folder is trusted again once quiet", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await sleep(QUIET_WAIT_MS);
    const f = join(dir, "package.json");
    const stamp = takeStamp(f);
    await Deno.writeTextFile(join(dir, "notes.txt"), "x");
    assert.ok(stampsValid([stamp]), "the folder changed, but the file is still missing");
    assert.equal(stamp.dir, undefined, "a folder changed just now is not trusted");
    await sleep(QUIET_WAIT_MS);
    assert.ok(stampsValid([stamp]));
    assert.ok(dirOf(stamp), "a quiet folder is remembered again");
    await Deno.writeTextFile(f, "{}");
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file added with the folder's mtime set back (as tar and cp -a do) still invalidates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await sleep(QUIET_WAIT_MS);
    const before = Deno.statSync(dir).mtime!;
    const f = join(dir, "deno.json");
    const stamp = takeStamp(f);
    assert.ok(stamp.dir);
    await Deno.writeTextFile(f, "{}");
    await Deno.utime(dir, before, before);
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a dangling symlink is never vouched for by its folder: its target appearing invalidates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sub = join(dir, "project");
    await Deno.mkdir(sub);
    await Deno.symlink("../shared.json", join(sub, "deno.json"));
    await sleep(QUIET_WAIT_MS);
    const stamp = takeStamp(join(sub, "deno.json"));
    assert.equal(stamp.size, -1);
    assert.equal(stamp.dir, undefined);
    assert.ok(stampsValid([stamp]));
    await Deno.writeTextFile(join(dir, "shared.json"), "{}");
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing file in a busy folder is checked by its own stat", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "other.ts"), "x");
    const f = join(dir, "deno.jsonc");
    const stamp = takeStamp(f);
    assert.equal(stamp.dir, undefined);
    assert.ok(stampsValid([stamp]));
    await Deno.writeTextFile(f, "{}");
    assert.equal(stampsValid([stamp]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
