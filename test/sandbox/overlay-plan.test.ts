// The pure parts of the overlaid workdir (a contained run): the mount plan and the wrapper script.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type PathKind, planMounts } from "../../src/sandbox/mounts.ts";
import { overlayCommand, overlayScript } from "../../src/sandbox/overlay.ts";

const TREE: Record<string, PathKind> = {
  "/tmp": "dir",
  "/home": "dir",
  "/home/u": "dir",
  "/home/u/p": "dir",
  "/home/u/p/.git": "dir",
  "/home/u/p/.git/config": "file",
  "/home/u/data": "dir",
};

function plan(workdirSource?: string) {
  return planMounts({
    workdir: "/home/u/p",
    readWrite: ["/home/u/data"],
    readOnly: [],
    deny: [],
    tree: { gitDirs: ["/home/u/p/.git"], gitFiles: [], namedByConfig: [], nested: [] },
    etc: [],
    airlockFiles: {},
    probe: (p) => TREE[p] ?? "missing",
    ...(workdirSource ? { workdirSource } : {}),
  });
}

describe("overlaid workdir", () => {
  test("the workdir is bound from the merged view, with no protected binds or placeholders in it", () => {
    const { ops, createdOnHost } = plan("/stage/ns/merged");
    assert.ok(ops.some((m) => m.op === "bind" && m.src === "/stage/ns/merged" && m.dest === "/home/u/p"));
    assert.ok(!ops.some((m) => m.op === "bind" && m.src === "/home/u/p"));
    assert.ok(!ops.some((m) => "dest" in m && m.dest.startsWith("/home/u/p/")), "nothing mounted inside");
    assert.ok(!createdOnHost.some((p) => p.startsWith("/home/u/p/")));
    // Other writable roots keep their protection.
    assert.ok(createdOnHost.includes("/home/u/data/.bashrc"));
  });

  test("without an overlay the workdir's protected files are bound read-only as before", () => {
    const { ops } = plan();
    assert.ok(ops.some((m) => m.op === "ro-bind" && m.dest === "/home/u/p/.git/config"));
  });

  test("the wrapper mounts the layers, runs bubblewrap, records its status, then runs the collector without the IPC channel", () => {
    const spec = { dir: "/s/ns", sizeBytes: 1024, statusFile: "/s/rc", after: ["collect", "it's"] };
    const script = overlayScript(spec, "/w", "/usr/bin/bwrap", [
      "--ro-bind",
      "/",
      "/",
      "--",
      "sh",
      "-c",
      "a 'b'",
    ]);
    const lines = script.split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^mount -t tmpfs -o size=1024 tmpfs \/s\/ns /) >= 0);
    assert.ok(at(/lowerdir=\/w,upperdir=\/s\/ns\/upper,workdir=\/s\/ns\/work,userxattr/) >= 0);
    const bwrap = at(/^\/usr\/bin\/bwrap --ro-bind /);
    assert.ok(bwrap > at(/^mount -t overlay/));
    assert.match(lines[bwrap] ?? "", / sh -c 'a '\\''b'\\'''$/);
    const closed = at(/^exec 3>&-$/);
    const collector = at(/^env -i PATH="\$PATH" collect 'it'\\''s' \/s\/ns\/upper \/w \/s\/ns\/merged /);
    assert.ok(bwrap < closed && closed < collector);
    assert.equal(lines.at(-1), 'exit "$rc"');
    const cmd = overlayCommand(spec, "/w", "/usr/bin/bwrap", []);
    assert.deepEqual(cmd.args.slice(0, 9), [
      "--pdeathsig",
      "KILL",
      "unshare",
      "--user",
      "--map-root-user",
      "--mount",
      "--net",
      "bash",
      "-c",
    ]);
    const table = at(/^echo \d+ > \/proc\/sys\/net\/ipv4\/tcp_child_ehash_entries /);
    assert.ok(table >= 0 && table < bwrap, "the sandbox's own TCP table is sized before bubblewrap runs");
    assert.equal(cmd.file, "setpriv");
  });

  test("a path the overlay options would misread is refused", () => {
    const spec = { dir: "/s/ns", sizeBytes: 1, statusFile: "/s/rc", after: ["x"] };
    assert.throws(() => overlayScript(spec, "/w,upperdir=/x", "/usr/bin/bwrap", []), /contains/);
  });
});
