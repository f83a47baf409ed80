// The pure parts: mount plan order, protected-file blocking, /proc/net/tcp parsing, names, env.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bwrapArgs, ISOLATION_ARGS, sandboxEnv } from "../../src/sandbox/bwrap.ts";
import { hostKernelMounts } from "../../src/sandbox/host-facts.ts";
import {
  firstMissing,
  type MountOp,
  type PathKind,
  planMounts,
  sandboxPath,
} from "../../src/sandbox/mounts.ts";
import { generateName } from "../../src/sandbox/names.ts";
import { decodeProcAddress, findClientInode } from "../../src/sandbox/proc-net.ts";

function probeOf(tree: Record<string, PathKind>) {
  return (path: string): PathKind => tree[path] ?? "missing";
}

const TREE: Record<string, PathKind> = {
  "/tmp": "dir",
  "/var/tmp": "dir",
  "/run": "dir",
  "/home": "dir",
  "/home/u": "dir",
  "/home/u/.ssh": "dir",
  "/home/u/.ssh/keys": "dir",
  "/home/u/.netrc": "file",
  "/home/u/p": "dir",
  "/home/u/p/.git": "dir",
  "/home/u/p/.git/hooks": "dir",
  "/home/u/p/.git/config": "file",
  "/home/u/p/.bashrc": "file",
  "/home/u/wt": "dir",
  "/home/u/wt/.git": "file", // a git worktree: .git is a file
};

function plan(extra: Partial<Parameters<typeof planMounts>[0]> = {}) {
  return planMounts({
    workdir: "/home/u/p",
    readWrite: [],
    readOnly: [],
    deny: ["/home/u/.ssh", "/home/u/.netrc"],
    tree: { gitDirs: ["/home/u/p/.git"], gitFiles: ["/home/u/wt/.git"], namedByConfig: [], nested: [] },
    etc: [{ name: "hosts" }, { name: "mtab", symlinkTarget: "../proc/self/mounts" }],
    airlockFiles: { "init.cjs": "/opt/airlock/init.cjs" },
    probe: probeOf(TREE),
    ...extra,
  });
}

const index = (ops: MountOp[], pred: (m: MountOp) => boolean) => ops.findIndex(pred);

describe("mount plan", () => {
  test("root read-only first, fresh tmpfs for socket dirs, /etc rebuilt around /etc/airlock", () => {
    const { ops } = plan();
    assert.deepEqual(ops[0], { op: "ro-bind", src: "/", dest: "/" });
    for (const dir of ["/tmp", "/var/tmp", "/run", "/dev/shm"]) {
      assert.ok(
        ops.some((m) => m.op === "tmpfs" && m.dest === dir),
        dir,
      );
    }
    const etc = index(ops, (m) => m.op === "tmpfs" && m.dest === "/etc");
    const airlock = index(ops, (m) => m.op === "ro-bind" && m.dest === "/etc/airlock/init.cjs");
    const remount = index(ops, (m) => m.op === "remount-ro" && m.dest === "/etc");
    assert.ok(etc < airlock && airlock < remount);
    assert.ok(
      ops.some((m) => m.op === "symlink" && m.dest === "/etc/mtab" && m.target === "../proc/self/mounts"),
    );
    assert.ok(ops.some((m) => m.op === "ro-bind" && m.src === "/etc" && m.dest === "/etc/airlock/host-etc"));
    assert.ok(
      ops.some(
        (m) => m.op === "symlink" && m.dest === "/etc/hosts" && m.target === "/etc/airlock/host-etc/hosts",
      ),
    );
  });

  test("the fresh /proc is read-only at once, and nothing is mounted below it", () => {
    const { ops } = plan({ readWrite: ["/home/u/p/out"], readOnly: ["/home/u/p/docs"] });
    const proc = index(ops, (m) => m.op === "proc" && m.dest === "/proc");
    assert.deepEqual(ops[proc + 1], { op: "remount-ro", dest: "/proc" });
    assert.deepEqual(
      ops.filter((m) => m.dest === "/proc" || m.dest.startsWith("/proc/")),
      [ops[proc], ops[proc + 1]],
    );
  });

  test("the host's kernel interfaces to hide: every procfs but /proc's own, other kernel filesystems in writable paths", () => {
    const mountinfo = [
      "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
      "23 22 0:22 / /proc/sys/fs/binfmt_misc rw,relatime shared:13 - autofs systemd-1 rw",
      "24 22 0:21 /sys /proc/sys ro,relatime - proc proc rw",
      "25 1 0:23 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw",
      "26 25 0:24 / /sys/fs/cgroup rw,relatime - cgroup2 cgroup2 rw",
      "90 1 0:40 / /srv/chroot/proc rw,relatime shared:50 master:12 - proc proc rw",
      "91 1 0:41 / /home/u/build\\040root/proc rw,relatime - proc none rw",
      "92 1 0:42 / /srv/chroot/proc rw,relatime - proc proc rw",
      "93 1 254:0 /proc /srv/not-proc rw,relatime - ext4 /dev/vda rw",
      "94 1 0:23 / /srv/chroot/sys rw,relatime - sysfs sysfs rw",
      "95 1 0:23 / /home/u/p/root/sys rw,relatime - sysfs sysfs rw",
      "96 1 0:43 / /home/u/p/out rw,relatime - tmpfs tmpfs rw",
      "97 1 0:44 / /home/u/p/root/dev/mqueue rw,relatime - mqueue mqueue rw",
    ].join("\n");
    assert.deepEqual(hostKernelMounts(mountinfo, ["/home/u/p"]), [
      "/srv/chroot/proc",
      "/home/u/build root/proc",
      "/home/u/p/root/sys",
      "/home/u/p/root/dev/mqueue",
    ]);
  });

  test("a deny path inside another is hidden by it: nothing is mounted inside the hidden one", () => {
    const { ops } = plan({ deny: ["/home/u/.ssh", "/home/u/.ssh/keys", "/home/u/.netrc"] });
    assert.deepEqual(
      ops.filter((m) => m.dest.startsWith("/home/u/.ssh")),
      [
        { op: "tmpfs", dest: "/home/u/.ssh" },
        { op: "remount-ro", dest: "/home/u/.ssh" },
      ],
    );
  });

  test("workdir writable, protected files read-only after it, deny last", () => {
    const { ops, createdOnHost } = plan();
    const bind = index(ops, (m) => m.op === "bind" && m.dest === "/home/u/p");
    const hooks = index(ops, (m) => m.op === "ro-bind" && m.dest === "/home/u/p/.git/hooks");
    const bashrc = index(
      ops,
      (m) => m.op === "ro-bind" && m.dest === "/home/u/p/.bashrc" && m.src === "/home/u/p/.bashrc",
    );
    const mcp = index(
      ops,
      (m) => m.op === "ro-bind" && m.src === "/dev/null" && m.dest === "/home/u/p/.mcp.json",
    );
    const claude = index(
      ops,
      (m) => m.op === "ro-bind" && m.src === "/dev/null" && m.dest === "/home/u/p/.claude",
    );
    const ssh = index(ops, (m) => m.op === "tmpfs" && m.dest === "/home/u/.ssh");
    const netrc = index(
      ops,
      (m) => m.op === "ro-bind" && m.src === "/dev/null" && m.dest === "/home/u/.netrc",
    );
    for (const i of [hooks, bashrc, mcp, claude, ssh, netrc]) assert.ok(i > bind, String(i));
    assert.ok(ssh > Math.max(hooks, mcp) && netrc > mcp);
    assert.ok(createdOnHost.includes("/home/u/p/.mcp.json"));
    assert.ok(createdOnHost.includes("/home/u/p/.claude"), "blocked at the first missing component");
    assert.ok(!createdOnHost.includes("/home/u/p/.bashrc"), "existing files are bound onto themselves");
  });

  test("nothing is blocked below a file (git worktree), a read_write path inside deny stays hidden", () => {
    assert.equal(firstMissing("/home/u/wt/.git/hooks", probeOf(TREE)), null);
    const { ops, notes } = plan({ workdir: "/home/u/wt", readWrite: ["/home/u/.ssh/keys"] });
    assert.ok(!ops.some((m) => m.dest.startsWith("/home/u/wt/.git/")));
    assert.ok(
      ops.some((m) => m.op === "ro-bind" && m.src === "/home/u/wt/.git" && m.dest === "/home/u/wt/.git"),
      "the .git file itself is read-only (and a mount point)",
    );
    assert.ok(!ops.some((m) => m.op === "bind" && m.dest === "/home/u/.ssh/keys"));
    assert.ok(notes.some((n) => n.includes("inside a deny path")));
  });

  test("read_only inside a writable root is bound read-only after it; absent read_write is a note", () => {
    const { ops, notes } = plan({ readOnly: ["/home/u/p/.git"], readWrite: ["/nope"] });
    const bind = index(ops, (m) => m.op === "bind" && m.dest === "/home/u/p");
    const ro = index(ops, (m) => m.op === "ro-bind" && m.dest === "/home/u/p/.git");
    assert.ok(ro > bind);
    assert.ok(notes.some((n) => n.includes("/nope does not exist")));
  });
});

test("paths under /etc are mounted where the host's /etc is shown", () => {
  assert.equal(sandboxPath("/etc/shadow"), "/etc/airlock/host-etc/shadow");
  assert.equal(sandboxPath("/etc/airlock/ca-bundle.pem"), "/etc/airlock/ca-bundle.pem");
  assert.equal(sandboxPath("/etcetera/x"), "/etcetera/x");
  const { ops } = plan({ deny: ["/etc/shadow"], probe: probeOf({ ...TREE, "/etc/shadow": "file" }) });
  assert.ok(
    ops.some((m) => m.op === "ro-bind" && m.src === "/dev/null" && m.dest === "/etc/airlock/host-etc/shadow"),
  );
});

describe("bubblewrap arguments and environment", () => {
  test("isolation flags come first and the init runs the command", () => {
    const args = bwrapArgs({
      name: "quiet-otter",
      mounts: [{ op: "ro-bind", src: "/", dest: "/" }],
      chdir: "/w",
      uid: 1000,
      gid: 1000,
      nodePath: "/usr/bin/node",
      command: ["claude", "--help"],
    });
    assert.deepEqual(args.slice(0, ISOLATION_ARGS.length), [...ISOLATION_ARGS]);
    for (const flag of [
      "--unshare-net",
      "--unshare-user",
      "--unshare-pid",
      "--disable-userns",
      "--die-with-parent",
      "--new-session",
    ]) {
      assert.ok(args.includes(flag), flag);
    }
    assert.deepEqual(args.slice(args.indexOf("--cap-drop"), args.indexOf("--cap-drop") + 2), [
      "--cap-drop",
      "ALL",
    ]);
    const tail = args.slice(args.indexOf("--") + 1);
    assert.deepEqual(tail.slice(0, 2), ["/usr/bin/node", "/etc/airlock/init.cjs"]);
    assert.deepEqual(JSON.parse(tail[2] as string).command, ["claude", "--help"]);
  });

  test("the environment drops Airlock's credentials and host socket addresses", () => {
    const env = sandboxEnv(
      { PATH: "/usr/bin", AIRLOCK_TOKEN: "t", https_proxy: "http://corp:8080", DOCKER_HOST: "unix:///x" },
      "n",
    );
    assert.equal(env["PATH"], "/usr/bin");
    assert.equal(env["AIRLOCK_TOKEN"], undefined);
    assert.equal(env["DOCKER_HOST"], undefined);
    assert.equal(env["https_proxy"], "http://127.0.0.1:3128");
    assert.equal(env["AIRLOCK_SANDBOX"], "n");
  });
});

describe("/proc/net/tcp", () => {
  test("addresses decode from the kernel's word order", () => {
    assert.equal(decodeProcAddress("0100007F"), "127.0.0.1");
    assert.equal(decodeProcAddress("0000000000000000FFFF00000100007F"), "127.0.0.1");
    assert.equal(decodeProcAddress("00000000000000000000000001000000"), "::1");
  });

  test("the client end of an accepted connection is found by its 4-tuple", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:0C38 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 14686 1 0 100 0 0 10 0",
      "   1: 0100007F:8600 0100007F:0C38 01 00000000:00000000 02:0000176F 00000000     0        0 14716 3 0 20 0 0 11 -1",
      "   2: 0100007F:0C38 0100007F:8600 01 00000000:0000004E 00:00000000 00000000     0        0 13887 1 0 20 4 30 10 -1",
      // A TIME_WAIT entry (inode 0) of an earlier connection from the same port.
      "   3: 0100007F:8601 0100007F:0C38 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000",
    ].join("\n");
    const listener = { address: "127.0.0.1", port: 3128 };
    assert.equal(findClientInode(table, { address: "127.0.0.1", port: 0x8600 }, listener), 14716);
    assert.equal(findClientInode(table, { address: "::ffff:127.0.0.1", port: 0x8600 }, listener), 14716);
    assert.equal(findClientInode(table, { address: "127.0.0.1", port: 1 }, listener), null);
    assert.equal(findClientInode(table, { address: "127.0.0.1", port: 0x8601 }, listener), null, "TIME_WAIT");
    assert.equal(findClientInode(table, { address: "127.0.0.2", port: 0x8600 }, listener), null);
    assert.equal(
      findClientInode(table, { address: "127.0.0.1", port: 3128 }, { address: "127.0.0.1", port: 0x8600 }),
      13887,
      "the other end, when asked the other way round",
    );
  });

  test("differential: the line search agrees with decoding every line (bounded, seeded)", () => {
    let seed = 20261201;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const hex = (value: number, width: number) => value.toString(16).toUpperCase().padStart(width, "0");
    // Few addresses and ports, so that lines share them and ports appear in other columns.
    const addresses = ["0100007F", "0200007F", "00000000"];
    const ports = [0x0c38, 0x8600, 0x8601, 0x0001, 0x0000];
    for (let round = 0; round < 300; round++) {
      const lines = [
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      ];
      const count = random(12);
      for (let i = 0; i < count; i++) {
        const local = `${addresses[random(3)]}:${hex(ports[random(5)] as number, 4)}`;
        const remote = `${addresses[random(3)]}:${hex(ports[random(5)] as number, 4)}`;
        const state = hex([1, 6, 10][random(3)] as number, 2);
        const queues = `${hex(ports[random(5)] as number, 8)}:${hex(ports[random(5)] as number, 8)}`;
        const inode = random(4) === 0 ? 0 : 1000 + random(9000);
        lines.push(
          `${String(i).padStart(4)}: ${local} ${remote} ${state} ${queues} 00:00000000 00000000  1000        0 ${inode} 1 0 20 4 30 10 -1`,
        );
      }
      const table = lines.join("\n");
      const peer = {
        address: ["127.0.0.1", "127.0.0.2"][random(2)] as string,
        port: ports[random(5)] as number,
      };
      const listener = { address: "127.0.0.1", port: 0x0c38 };
      // The reference: decode every line, take the first that matches.
      let expected: number | null = null;
      for (const line of lines.slice(1)) {
        const f = line.trim().split(/\s+/);
        const [la, lp] = (f[1] as string).split(":") as [string, string];
        const [ra, rp] = (f[2] as string).split(":") as [string, string];
        const inode = Number(f[9]);
        const matches =
          Number.parseInt(f[3] as string, 16) !== 0x0a &&
          inode !== 0 &&
          decodeProcAddress(la) === peer.address &&
          Number.parseInt(lp, 16) === peer.port &&
          decodeProcAddress(ra) === listener.address &&
          Number.parseInt(rp, 16) === listener.port;
        if (matches) {
          expected = inode;
          break;
        }
      }
      assert.equal(findClientInode(table, peer, listener), expected, table);
    }
  });

  test("tcp6: a v4-mapped peer and an IPv6 one", () => {
    const table = [
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0000000000000000FFFF00000100007F:9A01 0000000000000000FFFF00000100007F:0C38 01 00000000:00000000 00:00000000 00000000  1000        0 555 1 0 20 4 30 10 -1",
      "   1: 00000000000000000000000001000000:9A02 00000000000000000000000001000000:0C38 01 00000000:00000000 00:00000000 00000000  1000        0 556 1 0 20 4 30 10 -1",
    ].join("\n");
    assert.equal(
      findClientInode(
        table,
        { address: "::ffff:127.0.0.1", port: 0x9a01 },
        { address: "127.0.0.1", port: 3128 },
      ),
      555,
    );
    assert.equal(
      findClientInode(table, { address: "::1", port: 0x9a02 }, { address: "::1", port: 3128 }),
      556,
    );
    assert.equal(
      findClientInode(table, { address: "::1", port: 0x9a01 }, { address: "::1", port: 3128 }),
      null,
    );
  });
});

test("generated names are readable and avoid taken ones", () => {
  let n = 0;
  const seq = () => [0.1, 0.1, 0.1, 0.1, 0.5, 0.5][n++ % 6] as number;
  const first = generateName(() => false, seq);
  assert.match(first, /^[a-z]+-[a-z]+$/);
  const second = generateName((name) => name === first, seq);
  assert.notEqual(second, first);
});
