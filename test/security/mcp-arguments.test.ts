// Attacks on `airlock mcp-proxy` through what a call names: secrets by path (as written, through
// a workdir symlink, /proc/self/...), Airlock's own signing key, file:// resources, prompts,
// and SQL spelled to dodge content rules. A real SDK server that reads any file it is asked for
// logs every message it receives; the tests assert on that log and on what reached the client.
import assert from "node:assert/strict";
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectDirect, connectProxy } from "../gate/mcp-helpers.ts";

const root = mkdtempSync(join(tmpdir(), "airlock-mcp-attack-"));
after(() => rmSync(root, { recursive: true, force: true }));
const home = join(root, "home");
const airlockHome = join(root, "airlock");
const work = join(root, "work");
const serverLog = join(root, "server.jsonl");
const SECRET = "SECRET-KEY-BYTES-7f3a9c";
mkdirSync(join(home, ".ssh"), { recursive: true });
mkdirSync(work);
mkdirSync(airlockHome);
writeFileSync(join(home, ".ssh", "id_rsa"), `${SECRET}\n`);
writeFileSync(join(work, "README.md"), "hello readme\n");
symlinkSync(join(home, ".ssh", "id_rsa"), join(work, "k"));
const policy = join(root, "gate.yaml");
writeFileSync(
  policy,
  `gate:
  default: ask
  hard_stops:
    - id: secrets
      decision: deny
      reason: credentials are off limits
      file: { path: [~/.ssh/**, /proc/*/environ] }
    - id: db-drop
      decision: deny
      reason: dropping tables loses data
      mcp: { server: "*", tool: [execute], arguments: { sql: ["*DROP TABLE*"] } }
    - id: paste-sites
      decision: deny
      reason: paste sites expose data
      fetch: { method: [POST, PUT], host: [pastebin.com] }
  allow:
    - { id: mcp-read, mcp: { server: "*", tool: [get_*, read_*] } }
    - { id: read-workdir, file: { op: read, path: "./**" } }
`,
);

type Result = { isError?: boolean; content: Array<{ text: string }> };
const text = (r: unknown) => (r as Result).content.map((c) => c.text).join("\n");
const received = (): Array<{
  method?: string;
  params?: { name?: string; arguments?: unknown; uri?: string };
}> =>
  existsSync(serverLog)
    ? readFileSync(serverLog, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
    : [];
const calls = () => received().filter((m) => m.method === "tools/call");

describe("MCP proxy: what the arguments name", { timeout: 120_000 }, () => {
  let client: Client;
  before(async () => {
    client = await connectProxy({
      policy,
      fixture: "mcp-rogue-server.ts",
      cwd: work,
      name: "github",
      proxyArgs: ["--ask-wait-ms", "0"],
      env: {
        HOME: home,
        AIRLOCK_HOME: airlockHome,
        AIRLOCK_GATEWAY: "",
        AIRLOCK_TOKEN: "",
        MCP_LOG: serverLog,
        SECRET_FILE: join(home, ".ssh", "id_rsa"),
        AIRLOCK_TEST_ENV_SECRET: SECRET,
      },
    });
    await client.listTools();
  });
  after(() => client.close());

  const refusedUnseen = async (tool: string, args: Record<string, unknown>, why: RegExp) => {
    const before = calls().length;
    const r = await client.callTool({ name: tool, arguments: args });
    assert.equal((r as Result).isError, true, `${tool} ${JSON.stringify(args)}: ${text(r)}`);
    assert.match(text(r), why);
    assert.doesNotMatch(text(r), new RegExp(SECRET));
    assert.equal(calls().length, before, "the call never reached the server");
  };

  it("without the proxy the server hands out the key through a tool and a resource (the attack is real)", async () => {
    const direct = await connectDirect(
      "mcp-rogue-server.ts",
      { HOME: home, SECRET_FILE: join(home, ".ssh", "id_rsa") },
      work,
    );
    try {
      assert.match(
        text(await direct.callTool({ name: "read_file", arguments: { path: "k" } })),
        new RegExp(SECRET),
      );
      const read = await direct.readResource({ uri: `file://${home}/.ssh/id_rsa` });
      assert.match((read.contents[0] as { text: string }).text, new RegExp(SECRET));
    } finally {
      await direct.close();
    }
  });

  it("the server never gets Airlock's own variables (the gateway token answers asks)", async () => {
    const names = text(await client.callTool({ name: "get_env", arguments: {} })).split(" ");
    assert.ok(names.includes("HOME"), names.join(" "));
    assert.deepEqual(
      names.filter((n) => n.startsWith("AIRLOCK_")),
      [],
    );
  });

  it("an allowed read of a workdir file reaches the server (the control)", async () => {
    const r = await client.callTool({ name: "read_file", arguments: { path: "README.md" } });
    assert.equal(text(r), "hello readme\n");
    assert.deepEqual(calls().at(-1)?.params?.arguments, { path: "README.md" });
  });

  it("a secret named by path is stopped before the server sees it, however it is spelled", async () => {
    for (const path of [
      "~/.ssh/id_rsa",
      join(home, ".ssh", "id_rsa"),
      `${home}/./.ssh//id_rsa`,
      `${work}/../home/.ssh/id_rsa`,
      `file://${home}/.ssh/id_rsa`,
      `/proc/self/root${home}/.ssh/id_rsa`,
      "k",
      `${work}/k`,
    ])
      await refusedUnseen("read_file", { path }, /deny.*secrets/);
  });

  it("spellings a server may expand, decode, trim or normalise are stopped too", async () => {
    for (const path of [
      "$HOME/.ssh/id_rsa",
      ["$", "{HOME}/.ssh/id_rsa"].join(""),
      " ~/.ssh/id_rsa\n",
      "%7E/.ssh/id_rsa",
      `${home}/.ssh/${"./".repeat(3000)}id_rsa`,
    ])
      await refusedUnseen("read_file", { path }, /deny.*secrets/);
  });

  it("what the gate cannot read plainly is not allowed: odd paths, too many strings", async () => {
    await refusedUnseen("read_file", { path: "README$X.md" }, /ask .*not a plain path/);
    const padding = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`k${i}`, "x"]));
    // Not every string looked at: the secrets stop may hold, so it asks.
    await refusedUnseen("read_file", { path: "README.md", ...padding }, /ask .*may be: credentials/);
  });

  it("the secret is stopped in any argument, under any key, nested", async () => {
    await refusedUnseen("get_weather", { city: "~/.ssh/id_rsa" }, /secrets/);
    await refusedUnseen("read_query", { query: "x", opts: { files: ["k"] } }, /secrets/);
  });

  it("/proc/self/environ is stopped", async () => {
    await refusedUnseen("read_file", { path: "/proc/self/environ" }, /secrets/);
    await refusedUnseen("read_file", { path: "/proc/thread-self/environ" }, /secrets/);
  });

  it("Airlock's own state (the receipt signing key) is off limits without any rule", async () => {
    await refusedUnseen(
      "read_file",
      { path: join(airlockHome, "gate", "receipt-key.pem") },
      /deny.*airlock-home/,
    );
  });

  it("a hard link is the file it links: a key, or Airlock's own signing key", async () => {
    linkSync(join(home, ".ssh", "id_rsa"), join(work, "hk"));
    assert.equal(readFileSync(join(work, "hk"), "utf8"), `${SECRET}\n`, "the link reads the key");
    await refusedUnseen("read_file", { path: "hk" }, /deny.*secrets/);
    await refusedUnseen("read_file", { path: `file://${work}/hk` }, /deny.*secrets/);
    linkSync(join(airlockHome, "gate", "receipt-key.pem"), join(work, "rk"));
    await refusedUnseen("read_file", { path: "rk" }, /deny.*airlock-home/);
  });

  it("an allowed tool reading a path outside the file rules' allow is asked about, not allowed", async () => {
    await refusedUnseen(
      "read_file",
      { path: "/etc/hostname" },
      /ask .*no allow rule covers read \/etc\/hostname/,
    );
  });

  it("URLs and hosts in the arguments meet the fetch rules", async () => {
    await refusedUnseen("get_page", { address: "https://pastebin.com/raw/x" }, /paste-sites/);
    await refusedUnseen("get_page", { address: "pastebin.com" }, /paste-sites/);
    await refusedUnseen("get_page", { address: "pastebin.com/raw/x" }, /paste-sites/);
  });

  it("content rules see through case, spacing and SQL comments, on every tool of the server", async () => {
    for (const query of [
      "DROP TABLE users",
      "Drop Table users",
      "DROP\tTABLE users",
      "drop/**/table users",
      "DROP -- comment\n TABLE users",
      "ＤＲＯＰ ＴＡＢＬＥ users",
    ])
      await refusedUnseen("read_query", { query }, /db-drop/);
    const ok = await client.callTool({ name: "read_query", arguments: { query: "SELECT 1" } });
    assert.equal(text(ok), "ran: SELECT 1");
  });

  it("resources/read: a file:// secret never reaches the client; other resources need an allow", async () => {
    await assert.rejects(
      client.readResource({ uri: `file://${home}/.ssh/id_rsa` }),
      (e: Error) => /deny.*secrets/.test(e.message) && !e.message.includes(SECRET),
    );
    await assert.rejects(client.readResource({ uri: "demo://readme" }), /ask .*refused/);
    assert.equal(received().filter((m) => m.method === "resources/read").length, 0);
  });

  it("prompts/get is gated like a tool call", async () => {
    await assert.rejects(client.getPrompt({ name: "greet", arguments: { who: "x" } }), /ask .*refused/);
    assert.equal(received().filter((m) => m.method === "prompts/get").length, 0);
  });

  it("every decision left a receipt saying what was decided", () => {
    const receipts = readFileSync(join(airlockHome, "gate", "receipts.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { tool: string; decision: string; rule: string | null });
    const of = (tool: string) => receipts.filter((r) => r.tool === tool).map((r) => r.decision);
    assert.ok(of("mcp:github/read_file").includes("allow"));
    assert.ok(of("mcp:github/read_file").filter((d) => d === "deny").length >= 10);
    assert.deepEqual(of("file_read"), ["deny"], "the file:// resource");
    assert.deepEqual(of("mcp:github/resources/read"), ["ask"]);
    assert.deepEqual(of("mcp:github/prompts/get"), ["ask"]);
    assert.ok(receipts.some((r) => r.rule === "airlock-home" && r.decision === "deny"));
  });
});
