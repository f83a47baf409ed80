// The web inbox with a real agent: a gateway in this process, `airlock run` (bubblewrap, proxy,
// TLS) joined to it, the scripted agent inside proposing through policy.local, the fake
// api.github.com on loopback, and chromium clicking Approve / Reject (issue 7's browser test).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { type FakeGitHub, startFakeGitHub } from "../../src/demo/fake-github.ts";
import { CHROMIUM, chunkCard, firstPage, type OpenBrowser, openBrowser } from "../gateway/browser.ts";
import { type Harness, startHarness } from "../gateway/harness.ts";
import { removeDir, scratchDir } from "../sandbox/helpers.ts";

const REPO = join(import.meta.dirname, "..", "..");
const BIN = join(REPO, "bin", "airlock.js");
// Copied into the workdir: the sandbox shows a fresh /tmp, where a checkout may live.
const AGENT_SOURCE = join(REPO, "examples", "agents", "scripted-agent.mjs");
let AGENT: string;
const WAIT_MS = 30_000;
const REASON = 'scope it to docs/ — "ünïcødé" <b>&amp;</b> 🚀';

let dir: string;
let github: FakeGitHub;
let policyFile: string;
let h: Harness;
let browser: OpenBrowser;
let page: Page;
let problems: string[];
const agents: ChildProcess[] = [];

interface Agent {
  child: ChildProcess;
  stdout(): string;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** `airlock run` with the scripted agent, pointed at the in-process gateway. */
function runAgent(name: string): Agent {
  const child = spawn(
    process.execPath,
    [
      BIN,
      "run",
      "--name",
      name,
      "--enable-proposals",
      "--policy",
      policyFile,
      "--workdir",
      dir,
      "--connect-to",
      `api.github.com:443:127.0.0.1:${github.port}`,
      "--upstream-ca",
      github.caFile,
      "--",
      "/usr/bin/node",
      AGENT,
    ],
    {
      env: {
        ...process.env,
        AIRLOCK_HOME: join(dir, "home"),
        AIRLOCK_GATEWAY: h.gw.url,
        AIRLOCK_TOKEN: h.gw.operatorToken,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  agents.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => (stdout += d));
  child.stderr?.on("data", (d) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, stdout: () => stdout, done };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The agent's proposal, once its card is on the (never reloaded) page and the agent sits in /wait. */
async function proposalCard(agent: Agent, sandbox: string) {
  let id: string | undefined;
  await until("the agent's proposal at the gateway", async () => {
    const chunks = await h.op.listChunks({ sandbox, status: "pending" }).catch(() => []);
    id = chunks.find((c) => c.source === "agent_authored")?.id;
    return id !== undefined;
  });
  const card = chunkCard(page, id as string);
  await card.waitFor({ timeout: WAIT_MS });
  assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
  await until("the agent waiting", () => agent.stdout().includes("waiting for the developer"));
  return card;
}

describe("web inbox × a real sandbox (chromium)", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
}, () => {
  before(async () => {
    dir = scratchDir("e2e-inbox");
    AGENT = join(dir, "scripted-agent.mjs");
    copyFileSync(AGENT_SOURCE, AGENT);
    github = await startFakeGitHub(dir);
    policyFile = join(dir, "policy.yaml");
    writeFileSync(
      policyFile,
      "version: 1\nnetwork_policies:\n  github_api:\n    endpoints:\n      - { host: api.github.com, port: 443, protocol: rest, access: read-only }\n    binaries: [{ path: /usr/bin/curl }]\n",
    );
    h = await startHarness();
    browser = await openBrowser();
    ({ page, problems } = await firstPage(browser, WAIT_MS));
    const { url } = await h.op.inboxLoginCode();
    await page.goto(url);
    await page.locator("body[data-live='1'][data-loaded='1']").waitFor();
    // A flag only this page load carries: still there later means nothing reloaded the page.
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
  });
  after(async () => {
    for (const child of agents)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await browser?.close();
    await h?.dispose();
    await github?.close();
    removeDir(dir);
  });

  test("a proposal from inside the sandbox appears live; Approve wakes the agent's /wait and its retry succeeds", {
    timeout: 150_000,
  }, async () => {
    const agent = runAgent("inbox-approve");
    const card = await proposalCard(agent, "inbox-approve");
    assert.match(
      (await card.textContent()) ?? "",
      /api\.github\.com:443 \[L7 rest, allow PUT \/repos\/acme\/site\/contents\/docs\/getting-started\.md\]/,
    );
    await card.getByRole("button", { name: "Approve", exact: true }).click();
    const result = await agent.done;
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /approved and the sandbox's policy is reloaded/);
    assert.match(result.stdout, /retry: HTTP 201/);
    assert.match(github.files.get("docs/getting-started.md") ?? "", /Written by the agent/);
    await card.waitFor({ state: "detached" });
  });

  test("a reason typed in the page reaches the agent byte for byte on Reject", {
    timeout: 150_000,
  }, async () => {
    const agent = runAgent("inbox-reject");
    const card = await proposalCard(agent, "inbox-reject");
    await card.getByRole("textbox", { name: /Reason for rejecting/ }).fill(REASON);
    await card.getByRole("button", { name: "Reject" }).click();
    const result = await agent.done;
    assert.equal(result.code, 2, result.stdout + result.stderr);
    const expected = Buffer.from(`agent> rejected: ${REASON}\n`);
    assert.ok(Buffer.from(result.stdout).includes(expected), result.stdout);
    await card.waitFor({ state: "detached" });
    assert.deepEqual(problems, []);
  });
});
