import assert from "node:assert/strict";
import { test } from "node:test";
import {
  exeIsHostPut,
  foreignCode,
  loadedCodeProblem,
  loaderVariables,
  mountOf,
  nodeOptionsProblem,
  parseMountInfo,
} from "../../src/sandbox/loaded-code.ts";

const MOUNTINFO = [
  "111 46 254:0 / / ro,nosuid,nodev,relatime - ext4 /dev/vda rw",
  "142 111 0:54 / /tmp rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=755",
  "150 111 254:0 /home/u/proj /home/u/proj rw,relatime - ext4 /dev/vda rw",
  "151 150 254:0 /home/u/proj/.git/hooks /home/u/proj/.git/hooks ro,relatime - ext4 /dev/vda rw",
  "152 111 254:0 /srv/a\\040b /srv/a\\040b rw,relatime - ext4 /dev/vda rw",
].join("\n");
const mounts = parseMountInfo(MOUNTINFO);

/** A mapping on the root filesystem (fe:00 is 254:0, the device of "/" above). */
const map = (perms: string, path: string) =>
  `7f0000000000-7f0000001000 ${perms} 00000000 fe:00 1234    ${path}`;

test("mountOf: the deepest mount point above the path, on segment boundaries", () => {
  assert.equal(mountOf(mounts, "/usr/lib/libc.so.6")?.readOnly, true);
  assert.equal(mountOf(mounts, "/tmp/x.so")?.readOnly, false);
  assert.equal(mountOf(mounts, "/tmpfoo/x.so")?.point, "/");
  assert.equal(mountOf(mounts, "/home/u/proj/.git/hooks/x")?.readOnly, true);
  assert.equal(mountOf(mounts, "/srv/a b/lib.so")?.readOnly, false, "mountinfo escapes decoded");
});

test("foreignCode: only executable mappings; the binary itself, anonymous and kernel mappings pass", () => {
  const maps = [
    map("r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
    map("r-xp", "/home/u/proj/bin/tool"),
    map("rw-p", "/tmp/data.bin"),
    map("rwxp", ""),
    map("r-xp", "[vdso]"),
  ].join("\n");
  assert.equal(foreignCode(maps, "/home/u/proj/bin/tool", mounts), null);
  assert.equal(foreignCode(maps, "/usr/bin/curl", mounts), "/home/u/proj/bin/tool", "another program's file");
  assert.equal(foreignCode(map("r-xp", "/tmp/evil.so"), "/usr/bin/curl", mounts), "/tmp/evil.so");
  const memfd = "7f0000000000-7f0000001000 r-xp 00000000 00:01 98    /memfd:x (deleted)";
  assert.equal(foreignCode(memfd, "/usr/bin/curl", mounts), "/memfd:x (deleted)");
  assert.equal(
    foreignCode(map("r-xp", "/usr/lib/libgone.so (deleted)"), "/usr/bin/curl", mounts),
    null,
    "a library the host replaced while it ran: its read-only mount, its device",
  );
  const shmem = "7f0000000000-7f0000001000 r-xp 00000000 00:01 99    /SYSV00000000 (deleted)";
  assert.equal(
    foreignCode(shmem, "/usr/bin/curl", mounts),
    "/SYSV00000000 (deleted)",
    "kernel memory, not a file",
  );
  assert.equal(
    foreignCode(map("r-xp", "/usr/bin/curl (deleted)"), "/usr/bin/curl", mounts),
    null,
    "the binary itself, replaced on disk",
  );
});

test("exeIsHostPut: the executable's own code mapping, on a read-only mount and of its device", () => {
  const libc = map("r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6");
  const tool = (path: string) => [map("r--p", path), map("r-xp", path), libc].join("\n");
  assert.equal(exeIsHostPut(tool("/usr/bin/curl"), "/usr/bin/curl", mounts), true);
  assert.equal(exeIsHostPut(tool("/tmp/x/bin/tool"), "/tmp/x/bin/tool", mounts), false, "the sandbox's /tmp");
  assert.equal(
    exeIsHostPut(tool("/home/u/proj/bin/tool"), "/home/u/proj/bin/tool", mounts),
    false,
    "the workdir",
  );
  assert.equal(exeIsHostPut(tool("/home/u/proj/.git/hooks/x"), "/home/u/proj/.git/hooks/x", mounts), true);
  assert.equal(
    exeIsHostPut(tool("/usr/bin/curl (deleted)"), "/usr/bin/curl", mounts),
    true,
    "replaced by the host",
  );
  const memfd = "7f0000000000-7f0000001000 r-xp 00000000 00:01 98    /memfd:x (deleted)";
  assert.equal(exeIsHostPut(memfd, "/memfd:x", mounts), false, "memory shown under a read-only root");
  assert.equal(exeIsHostPut(map("r--p", "/usr/bin/curl"), "/usr/bin/curl", mounts), false, "no code mapping");
  assert.equal(exeIsHostPut(libc, "/usr/bin/curl", mounts), false, "not mapped at all");
});

test("loaderVariables: LD_* names with a value", () => {
  assert.deepEqual(loaderVariables("PATH=/bin\0LD_PRELOAD=/tmp/x.so\0LD_AUDIT=\0LD_BIND_NOW=1\0"), [
    "LD_PRELOAD",
    "LD_BIND_NOW",
  ]);
});

test("loadedCodeProblem: a tracer, a loader variable, foreign code, unreadable facts", () => {
  const clean = {
    pid: 7,
    exe: "/usr/bin/curl",
    environ: "PATH=/bin\0",
    maps: map("r-xp", "/usr/bin/curl"),
    status: "Name:\tcurl\nTracerPid:\t0\n",
  };
  assert.equal(loadedCodeProblem(clean, mounts), null);
  assert.match(
    loadedCodeProblem({ ...clean, status: "TracerPid:\t12\n" }, mounts) ?? "",
    /pid 7 \(\/usr\/bin\/curl\) is traced by pid 12/,
  );
  assert.match(
    loadedCodeProblem({ ...clean, environ: "LD_AUDIT=/tmp/a.so\0" }, mounts) ?? "",
    /started with LD_AUDIT set/,
  );
  assert.match(
    loadedCodeProblem({ ...clean, maps: map("r-xp", "/tmp/evil.so") }, mounts) ?? "",
    /runs code from \/tmp\/evil\.so/,
  );
  assert.match(loadedCodeProblem({ ...clean, maps: null }, mounts) ?? "", /cannot read what pid 7/);
  assert.match(loadedCodeProblem({ ...clean, status: "Name:\tcurl\n" }, mounts) ?? "", /cannot read whether/);
});

test("loaderVariables: Bun's and node's code-loading variables void the identity too", () => {
  assert.deepEqual(
    loaderVariables(
      "BUN_BE_BUN=\0BUN_OPTIONS=--preload ./x.ts\0BUN_INSTALL=/b\0ELECTRON_RUN_AS_NODE=1\0DOTNET_STARTUP_HOOKS=/w/h.dll\0",
    ),
    ["BUN_BE_BUN", "BUN_OPTIONS", "ELECTRON_RUN_AS_NODE", "DOTNET_STARTUP_HOOKS"],
  );
  assert.deepEqual(
    loaderVariables("NODE_OPTIONS=--require /etc/airlock/node-proxy.cjs --max-old-space-size=64\0"),
    [],
  );
  assert.deepEqual(loaderVariables("NODE_OPTIONS=--require /etc/airlock/node-proxy.cjs --import ./x.mjs\0"), [
    "NODE_OPTIONS (--import loads code other than Airlock's preload)",
  ]);
});

test("nodeOptionsProblem: only Airlock's preload may load, and no inspector", () => {
  assert.equal(nodeOptionsProblem("--require /etc/airlock/node-proxy.cjs"), null);
  assert.equal(nodeOptionsProblem("-r /etc/airlock/node-proxy.cjs --no-warnings --enable-source-maps"), null);
  assert.equal(nodeOptionsProblem("--require=/etc/airlock/node-proxy.cjs"), null);
  for (const value of [
    "--require /etc/airlock/node-proxy.cjs -r ./evil.js",
    "--require=/usr/lib/x.js",
    "--import tsx",
    "--loader file:///tmp/l.mjs",
    "--experimental-loader=./l.mjs",
    "--env-file .env",
    "--openssl-config=/tmp/engine.cnf",
    "--require",
  ]) {
    assert.match(nodeOptionsProblem(value) ?? "", /loads code other than Airlock's preload/, value);
  }
  for (const value of [
    "--inspect",
    "--inspect=0.0.0.0:9229",
    "--inspect-brk",
    "--inspect-port=9229",
    "--debug-port=1",
  ]) {
    assert.match(nodeOptionsProblem(value) ?? "", /opens the inspector/, value);
  }
});

test("loaderVariables: every runtime's code-loading family, named; data variables are not", () => {
  const coded = [
    "GCONV_PATH=/w",
    "OPENSSL_CONF=/w/engine.cnf",
    "OPENSSL_ENGINES=/w",
    "OPENSSL_MODULES=/w",
    "NODE_PATH=/w",
    "NODE_REPL_EXTERNAL_MODULE=/w/r.js",
    "DOTNET_ADDITIONAL_DEPS=/w/d.json",
    "DOTNET_ROOT=/w",
    "CORECLR_PROFILER_PATH_64=/w/p.so",
    "JAVA_TOOL_OPTIONS=-javaagent:/w/a.jar",
    "_JAVA_OPTIONS=-Dx=1",
    "JDK_JAVA_OPTIONS=-agentpath:/w/a.so",
    "CLASSPATH=/w",
    "PYTHONPATH=/w",
    "PYTHONHOME=/w",
    "PYTHONSTARTUP=/w/s.py",
    "PYTHONINSPECT=1",
    "PYTHONUSERBASE=/w",
    "PYTHONPLATLIBDIR=/w",
    "PYTHONBREAKPOINT=evil.hook",
    "PERL5OPT=-Mevil",
    "PERL5LIB=/w",
    "PERLLIB=/w",
    "PERL5DB=BEGIN{}",
    "RUBYOPT=-revil",
    "RUBYLIB=/w",
    "LUA_INIT=@/w/i.lua",
    "LUA_CPATH_5_4=/w/?.so",
    "PHPRC=/w",
    "TCLLIBPATH=/w",
    "GIO_EXTRA_MODULES=/w",
    "QT_PLUGIN_PATH=/w",
    "GST_PLUGIN_PATH_1_0=/w",
    "SASL_PATH=/w",
    "KRB5_CONFIG=/w/krb5.conf",
    "LD_FUTURE_VARIABLE=1",
  ];
  assert.deepEqual(
    loaderVariables(`${coded.join("\0")}\0`),
    coded.map((entry) => entry.slice(0, entry.indexOf("="))),
  );
  const data = [
    "SSL_CERT_FILE=/etc/airlock/ca.pem",
    "SSL_CERT_DIR=/etc/ssl/certs",
    "GLIBC_TUNABLES=glibc.malloc.check=3",
    "LOCPATH=/w",
    "PYTHONDONTWRITEBYTECODE=1",
    "PYTHONWARNINGS=ignore,default::DeprecationWarning",
    "GIT_DIR=/w/.git",
    "GIT_SSH_COMMAND=ssh -v",
    "BASH_ENV=/w/env.sh",
    "LUAROCKS_CONFIG=/w",
    "NODE_EXTRA_CA_CERTS=/etc/airlock/ca.pem",
    "LD_PRELOAD=",
    "XLD_PRELOAD=/w/x.so",
  ];
  assert.deepEqual(loaderVariables(`${data.join("\0")}\0`), []);
  assert.deepEqual(loaderVariables("PYTHONWARNINGS=ignore::evil.Warning\0"), [
    "PYTHONWARNINGS (a warning category imports a module)",
  ]);
  assert.deepEqual(
    loaderVariables("NODE_OPTIONS=--require /etc/airlock/node-proxy.cjs\0NODE_OPTIONS=--import ./x.mjs"),
    ["NODE_OPTIONS (--import loads code other than Airlock's preload)"],
    "a repeated name is judged too, the last entry without its NUL",
  );
});
