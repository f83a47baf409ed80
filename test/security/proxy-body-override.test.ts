// A body that can carry a `_method` field is read whole (up to 1 MiB) before it is decided, but
// only when such a field could change the decision. From inside a real `airlock run`, curl
// sends forms to endpoints that allow every method, that deny one by a deny rule, and that allow
// some; a loopback upstream records what it receives.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";
import { type RecordingUpstream, recordingUpstream, runCases, type SandboxRun } from "./proxy-helpers.ts";

const BIG = 1_100_000;
const HOSTS = ["full.example.com", "guarded.example.com", "limited.example.com"];

const POLICY = [
  "version: 1",
  "network_policies:",
  "  forms:",
  "    endpoints:",
  "      - { host: full.example.com, port: 80, protocol: rest, access: full }",
  "      - host: guarded.example.com",
  "        port: 80",
  "        protocol: rest",
  "        access: full",
  "        deny_rules:",
  '          - { method: DELETE, path: "/**" }',
  "      - { host: limited.example.com, port: 80, protocol: rest, access: read-write }",
  "    binaries:",
  "      - path: /usr/bin/curl",
  "",
].join("\n");

/** Lines `<name> <status>` from curl, one per request. */
function shell(): string {
  const post = (name: string, host: string, data: string) =>
    `curl -s -o /dev/null -w '${name} %{http_code}\\n' ${data} http://${host}/things`;
  return [
    `head -c ${BIG} /dev/zero | tr '\\0' a > big.txt`,
    post("full-big", "full.example.com", "--data-binary @big.txt"),
    post("full-override", "full.example.com", "-d x=1 -d _method=DELETE"),
    post("guarded-override", "guarded.example.com", "-d x=1 -d _method=DELETE"),
    post("guarded-big", "guarded.example.com", "--data-binary @big.txt"),
    post("guarded-form", "guarded.example.com", "-d x=2"),
    post("limited-override", "limited.example.com", "-d x=3 -d _method=DELETE"),
  ].join("; ");
}

describe("form bodies read whole only when a _method in them could change the decision", () => {
  let dir: string;
  let up: RecordingUpstream;
  let run: SandboxRun;
  let status: Map<string, number>;

  before(async () => {
    dir = scratchDir("sec-body-override");
    up = await recordingUpstream(HOSTS);
    const policy = join(dir, "policy.yaml");
    writeFileSync(policy, POLICY);
    const wd = join(dir, "wd");
    mkdirSync(wd);
    const connectTo = HOSTS.flatMap((h) => ["--connect-to", `${h}:80:127.0.0.1:${up.port}`]);
    run = await runCases(join(dir, "home"), wd, ["--policy", policy, ...connectTo], [], shell());
    status = new Map(
      run.stdout
        .split("\n")
        .map((line) => /^([a-z-]+) (\d{3})$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1] as string, Number(m[2])]),
    );
  });
  after(async () => {
    await up?.close();
    removeDir(dir);
  });

  const seenBy = (host: string) =>
    up.requests.filter((r) => r.rawHeaders.some((v, i) => i % 2 === 1 && v === host));

  test("every method allowed: a form larger than 1 MiB is streamed upstream whole", () => {
    assert.equal(run.code, 0, run.stderr);
    assert.equal(status.get("full-big"), 200, run.stdout);
    const bodies = seenBy("full.example.com").map((r) => r.body.length);
    assert.ok(bodies.includes(BIG), `upstream bodies: ${bodies.join(", ")}`);
  });

  test("every method allowed: a _method field changes nothing and goes upstream as sent", () => {
    assert.equal(status.get("full-override"), 200, run.stdout);
    assert.ok(seenBy("full.example.com").some((r) => r.body === "x=1&_method=DELETE"));
  });

  test("a deny rule names the method: the body is still read and the override refused", () => {
    assert.equal(status.get("guarded-override"), 403, run.stdout);
    assert.equal(status.get("guarded-big"), 403, run.stdout);
    assert.equal(status.get("guarded-form"), 200, run.stdout);
    assert.deepEqual(
      seenBy("guarded.example.com").map((r) => r.body),
      ["x=2"],
      "only the plain form reached the upstream",
    );
  });

  test("a method the endpoint does not allow: refused, nothing upstream", () => {
    assert.equal(status.get("limited-override"), 403, run.stdout);
    assert.deepEqual(seenBy("limited.example.com"), []);
  });
});
