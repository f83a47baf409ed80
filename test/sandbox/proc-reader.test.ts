import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { holdersAmong } from "../../src/sandbox/proc-holders.cjs";
import { type PendingRead, procReader, readProcText } from "../../src/sandbox/proc-reader.ts";

const dir = mkdtempSync(join(tmpdir(), "airlock-proc-reader-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Waits (bounded) until the thread has done the read, so that its text is the thread's. */
async function byThread(pending: PendingRead): Promise<PendingRead> {
  const reader = procReader();
  for (let i = 0; i < 1000 && !reader.finished(pending); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(reader.finished(pending), `the reader thread did ${pending.path}`);
  return pending;
}

test("a read asked of the reader gives the file's whole text, whoever did it", async () => {
  const path = file("small", "sl  local_address\n   0: 0100007F:0C38 00000000:0000 0A\n");
  const reader = procReader();
  // Taken back at once, then given time to be done by the thread: both give the same text.
  assert.equal(reader.read(reader.start(path)), readFileSync(path, "utf8"));
  for (let i = 0; i < 5; i++) {
    assert.equal(reader.read(await byThread(reader.start(path))), readFileSync(path, "utf8"));
  }
});

test("a /proc file (size 0) is read whole, beyond one page", async () => {
  const reader = procReader();
  const text = reader.read(await byThread(reader.start(`/proc/${process.pid}/maps`)));
  assert.ok(text !== null && text.length > 4096, "maps of a node process span several pages");
  assert.match(text, /\n$/);
  assert.ok(text.includes(realpathSync(process.execPath)), "the binary's own mapping is in it");
});

test("an unreadable file is null, from the thread and here alike", async () => {
  const reader = procReader();
  const missing = join(dir, "missing");
  assert.equal(reader.read(await byThread(reader.start(missing))), null);
  assert.equal(readProcText(missing), null);
});

test("a file larger than the shared slot is read here, whole", async () => {
  const big = file("big", `${"x".repeat(1023)}\n`.repeat(600));
  const reader = procReader();
  assert.equal(reader.read(await byThread(reader.start(big))), readFileSync(big, "utf8"));
});

test("reads asked for while the slot is taken, or read out of order, still give each its own file", async () => {
  const reader = procReader();
  const paths = Array.from({ length: 6 }, (_, i) => file(`f${i}`, `file ${i}\n`.repeat(i + 1)));
  const pendings = paths.map((path) => reader.start(path));
  for (const [i, pending] of [...pendings.entries()].reverse()) {
    assert.equal(reader.read(pending), readFileSync(paths[i] as string, "utf8"));
  }
  // A read nobody came for gives the slot to the next one.
  await byThread(reader.start(paths[0] as string));
  const next = await byThread(reader.start(paths[1] as string));
  assert.equal(reader.read(next), readFileSync(paths[1] as string, "utf8"));
});

test("a scan for a socket's holders on the thread finds what the same scan finds here", async () => {
  const server = createServer((s) => s.on("error", () => {}));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
  await new Promise((r) => client.once("connect", r));
  try {
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const link = readlinkSync(`/proc/self/fd/${fd}`);
    assert.match(link, /^socket:\[\d+\]$/);
    const sleeper = spawn("/bin/sleep", ["30"], { stdio: "ignore" });
    const pids = [sleeper.pid as number, process.pid];
    const here = holdersAmong("/proc", pids, link);
    assert.deepEqual(here, [
      { pid: process.pid, dir: `/proc/${process.pid}`, exe: realpathSync(process.execPath) },
    ]);
    const reader = procReader();
    const pending = reader.startHolders("/proc", pids, link);
    for (let i = 0; i < 1000 && !reader.finished(pending); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(reader.finished(pending), "the reader thread did the scan");
    assert.deepEqual(reader.holders(pending), here, "all of it scanned by the thread");
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(reader.holders(reader.startHolders("/proc", pids, link)), here, "shared, or here");
    }
    sleeper.kill();
  } finally {
    client.destroy();
    server.close();
  }
});
