// The web inbox in a real browser (playwright-core driving Debian's chromium, headless): log in
// through the one-time link, watch proposals arrive live, approve and reject from the page while a
// supervisor's /wait sleeps on them, and see decisions made elsewhere land without a reload.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { compilePolicy } from "../../src/policy/engine.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { GatewayLink } from "../../src/supervisor/gateway-link.ts";
import { submitProposal, waitProposal } from "../../src/supervisor/proposals.ts";
import { CHROMIUM, chunkCard as card, firstPage, type OpenBrowser, openBrowser } from "./browser.ts";
import { addRule, BASE_POLICY, eventually, l4Rule, putRule } from "./fixtures.ts";
import { startHarness } from "./harness.ts";

const WAIT_MS = 15_000;

async function submit(link: GatewayLink, ruleName: string, rule: unknown): Promise<string> {
  const res = await submitProposal(link, {
    intent_summary: `need ${ruleName}`,
    operations: [addRule(ruleName, rule)],
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const [id] = res.body.accepted_chunk_ids as string[];
  assert.ok(id);
  return id;
}

test("web inbox in chromium: one-time login, live proposals, approve/reject wake /wait, outside decisions show", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
  timeout: 120_000,
}, async () => {
  const h = await startHarness();
  const link = new GatewayLink({
    gateway: h.gw.url,
    operatorToken: h.gw.operatorToken,
    sandbox: "sb",
    policy: BASE_POLICY as unknown as Policy,
    backoff: { initialMs: 20, maxMs: 200 },
    applyPolicy: async (policy) => {
      compilePolicy(policy);
      return "loaded";
    },
  });
  let browser: OpenBrowser | null = null;
  try {
    await link.start();
    await h.op.setSetting("agent_policy_proposals_enabled", true);
    await eventually(() => link.settings?.agent_policy_proposals_enabled, "proposals flag push");
    await link.client().reportDenials("sb", [
      {
        binary: "/usr/bin/curl",
        host: "api.github.com",
        port: 443,
        layer: "l7",
        method: "DELETE",
        path: "/repos/o/r",
      },
    ]);

    browser = await openBrowser();
    const { page, problems } = await firstPage(browser, WAIT_MS);

    // Log in through the one-time link: the code is spent and the page URL carries no secret.
    const { url } = await h.op.inboxLoginCode();
    await page.goto(url);
    assert.equal(page.url(), `${h.gw.url}/inbox`);
    const reused = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
    assert.equal(reused.status, 400);
    assert.equal(((await reused.json()) as { error: string }).error, "login_code_used");
    const cookies = await browser.context.cookies(h.gw.url);
    const session = cookies.find((c) => c.name === "airlock_inbox");
    assert.ok(session, "session cookie set");
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, "Strict");
    await page.locator("body[data-live='1'][data-loaded='1']").waitFor();
    assert.equal(await page.locator("#login").isVisible(), false);
    assert.ok(!(await page.content()).includes(h.gw.operatorToken), "no token in the page");
    assert.match((await page.locator("#denies").textContent()) ?? "", /DELETE \/repos\/o\/r/);
    // New denies show up live too.
    await link
      .client()
      .reportDenials("sb", [{ binary: "/usr/bin/git", host: "gitlab.example", port: 22, layer: "l4" }]);
    await page.locator("#denies", { hasText: "gitlab.example:22 (L4)" }).waitFor();

    // A proposal submitted from the sandbox side appears without a reload...
    const putX = await submit(link, "put_x", putRule());
    const xCard = card(page, putX);
    await xCard.waitFor();
    assert.equal(page.url(), `${h.gw.url}/inbox`);
    const xText = (await xCard.textContent()) ?? "";
    assert.match(xText, /api\.github\.com:443 \[L7 rest, allow PUT \/repos\/o\/r\/contents\/x\.md\]/);
    assert.match(xText, /\+ rule put_x: \/usr\/bin\/curl/);
    assert.ok(xText.includes((await h.op.getChunk(putX)).summary), "plain-language summary shown");

    // ...and clicking Approve wakes the agent's /wait, with the policy reloaded.
    const xWait = waitProposal(link, putX, "30");
    await xCard.getByRole("button", { name: "Approve", exact: true }).click();
    const xDone = await xWait;
    assert.equal(xDone.body.status, "approved", JSON.stringify(xDone.body));
    assert.equal(xDone.body.policy_reloaded, true);
    assert.equal((await h.op.getChunk(putX)).decided_by, "inbox");
    await xCard.waitFor({ state: "detached" });
    await page.locator(`#decided tr[data-chunk-id="${putX}"]`).waitFor();

    // Reject with a typed reason: the waiting side gets it byte for byte.
    const reason = '  Use the contents API for docs/ only — "ünïcødé" <b>&amp;</b> 🚀 ';
    const putY = await submit(link, "put_y", putRule("/repos/o/r/contents/y.md"));
    const yCard = card(page, putY);
    await yCard.waitFor();
    const yWait = waitProposal(link, putY, "30");
    await yCard.getByRole("textbox", { name: /Reason for rejecting put_y/ }).fill(reason);
    await yCard.getByRole("combobox", { name: /Rejection hint for put_y/ }).selectOption("too_broad");
    await yCard.getByRole("button", { name: "Reject" }).click();
    const yDone = await yWait;
    assert.equal(yDone.body.status, "rejected");
    assert.equal(yDone.body.rejection_reason, reason);
    assert.equal(Buffer.compare(Buffer.from(yDone.body.rejection_reason as string), Buffer.from(reason)), 0);
    assert.equal(yDone.body.rejection_hint, "too_broad");
    await yCard.waitFor({ state: "detached" });

    // Decisions made elsewhere (API, CLI) update the open page.
    const other = await submit(link, "allow_other_example_443", l4Rule("other.example"));
    const third = await submit(link, "allow_third_example_443", l4Rule("third.example"));
    await card(page, other).waitFor();
    await card(page, third).waitFor();
    await h.op.reject(other, "decided in the CLI");
    await card(page, other).waitFor({ state: "detached" });
    const row = page.locator(`#decided tr[data-chunk-id="${other}"]`);
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /rejected[\s\S]*decided in the CLI/);
    await h.op.approve(third, (await h.op.getChunk(third)).review_token);
    await card(page, third).waitFor({ state: "detached" });
    await page.locator(`#decided tr[data-chunk-id="${third}"]`).waitFor();

    // The keyboard alone: j/k select, a approves, r + Enter rejects.
    const k1 = await submit(link, "allow_k1_example_443", l4Rule("k1.example"));
    const k2 = await submit(link, "allow_k2_example_443", l4Rule("k2.example"));
    await card(page, k1).waitFor();
    await card(page, k2).waitFor();
    await page.locator("body").click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    assert.equal(await card(page, k1).getAttribute("class"), "chunk selected");
    const k1Wait = waitProposal(link, k1, "30");
    await page.keyboard.press("a");
    assert.equal((await k1Wait).body.status, "approved");
    await card(page, k1).waitFor({ state: "detached" });
    await eventually(
      async () => (await card(page, k2).getAttribute("class")) === "chunk selected",
      "next card selected",
    );
    await page.keyboard.press("r");
    await page.keyboard.type("typed with keys");
    const k2Wait = waitProposal(link, k2, "30");
    await page.keyboard.press("Enter");
    const k2Done = await k2Wait;
    assert.deepEqual([k2Done.body.status, k2Done.body.rejection_reason], ["rejected", "typed with keys"]);

    // A security-flagged proposal is not approved by the shortcut, nor by its button alone: the
    // button restates the risk and approves only once the reviewer confirms it.
    const db = await submit(link, "allow_db_example_5432", l4Rule("db.example", 5432, "/usr/bin/psql"));
    const dbCard = card(page, db);
    await dbCard.waitFor();
    assert.match((await dbCard.textContent()) ?? "", /security-flagged/);
    await dbCard.click({ position: { x: 5, y: 5 } });
    await page.keyboard.press("a");
    await page.locator("#toast", { hasText: "Security-flagged" }).waitFor();
    assert.equal((await h.op.getChunk(db)).status, "pending");
    const dbWait = waitProposal(link, db, "30");
    await dbCard.getByRole("button", { name: "Approve", exact: true }).focus();
    await page.keyboard.press("Enter");
    const confirm = dbCard.getByRole("group", { name: /Confirm approving/ });
    await confirm.waitFor();
    assert.match((await confirm.textContent()) ?? "", /5432 is the PostgreSQL port: direct database access/);
    const anyway = confirm.getByRole("button", { name: "Approve despite the risk" });
    assert.equal(await anyway.isDisabled(), true);
    assert.equal((await h.op.getChunk(db)).status, "pending");
    await confirm.getByRole("checkbox").check();
    await anyway.click();
    assert.equal((await dbWait).body.status, "approved");
    await page.locator("#chunks .empty").waitFor();

    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    await link.stop();
    await h.dispose();
  }
});
