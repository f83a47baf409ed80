// The web inbox as people see it, in Chromium at a desktop and a phone size: nothing wider than
// the screen, no serious accessibility problem (axe-core run in the page), paths that wrap only at
// their boundaries, the before/after reach picture, the confirmation a security-flagged approval
// needs, and Undo on every approval. Screenshots of both sizes are written for a person to look at
// (AIRLOCK_SCREENSHOTS=dir keeps them).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Page } from "playwright-core";
import { buildHttpEvent, buildNetworkEvent } from "../../src/audit/ocsf.ts";
import { AuditLog } from "../../src/audit/writer.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { GatewayLink } from "../../src/supervisor/gateway-link.ts";
import { submitProposal } from "../../src/supervisor/proposals.ts";
import { REPO } from "../sandbox/cli-helpers.ts";
import { CHROMIUM, chunkCard, firstPage, type OpenBrowser, openBrowser } from "./browser.ts";
import { addRule, BASE_POLICY, eventually, l4Rule, putRule } from "./fixtures.ts";
import { startHarness } from "./harness.ts";

const SIZES = [
  { name: "desktop", width: 1400, height: 900 },
  { name: "phone", width: 390, height: 844 },
];

/** Elements whose box sticks out past the viewport's right edge (not inside a scrolling box). */
function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > width)
      out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
    for (const node of document.querySelectorAll("body *")) {
      const box = node.getBoundingClientRect();
      if (box.width === 0 || box.right <= width + 1) continue;
      let scroller = node.parentElement;
      while (scroller && getComputedStyle(scroller).overflowX === "visible")
        scroller = scroller.parentElement;
      if (scroller && scroller !== document.body) continue;
      out.push(
        `${node.tagName.toLowerCase()}.${(node as HTMLElement).className}: right ${Math.round(box.right)} > ${width}`,
      );
    }
    return out;
  });
}

async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated over the DevTools protocol: the page's own CSP (rightly) refuses injected scripts.
  await page.evaluate(readFileSync(join(REPO, "node_modules", "axe-core", "axe.min.js"), "utf8"));
  return page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[] }> }> };
      }
    ).axe;
    const { violations } = await axe.run();
    return violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
  });
}

test("the web inbox at desktop and phone sizes: fits, accessible, confirms risk, undoes", {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed`,
  timeout: 180_000,
}, async () => {
  const h = await startHarness();
  const link = new GatewayLink({
    gateway: h.gw.url,
    operatorToken: h.gw.operatorToken,
    sandbox: "look-sandbox",
    policy: BASE_POLICY as unknown as Policy,
    backoff: { initialMs: 20, maxMs: 200 },
    applyPolicy: async () => "loaded",
  });
  let browser: OpenBrowser | null = null;
  const shots = process.env.AIRLOCK_SCREENSHOTS ?? join(h.home, "screenshots");
  mkdirSync(shots, { recursive: true });
  try {
    await link.start();
    await h.op.setSetting("agent_policy_proposals_enabled", true);
    await eventually(() => link.settings?.agent_policy_proposals_enabled, "proposals flag push");
    const longPath =
      "/repos/acme/a-rather-long-repository-name/contents/docs/guides/getting-started/installation.md";
    await link.client().reportDenials("look-sandbox", [
      {
        binary: "/usr/local/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe",
        host: "api.github.com",
        port: 443,
        layer: "l7",
        method: "PUT",
        path: longPath,
      },
    ]);
    const submit = async (ruleName: string, rule: unknown) => {
      const res = await submitProposal(link, {
        intent_summary: `need ${ruleName}`,
        operations: [addRule(ruleName, rule)],
      });
      return (res.body.accepted_chunk_ids as string[])[0] as string;
    };
    const put = await submit("put_install_docs", putRule(longPath));
    const db = await submit("allow_db_example_5432", l4Rule("db.example", 5432, "/usr/bin/psql"));
    const decided = await submit("allow_pkg_example_443", l4Rule("pkg.example"));
    await h.op.approve(decided, (await h.op.getChunk(decided)).review_token);

    // The sandbox's own audit log, written by the real writer: the timeline reads it back.
    const audit = new AuditLog(join(h.home, "sandboxes", "look-sandbox", "logs"));
    const actor = { binary: "/usr/bin/curl", pid: 7 };
    const now = Date.now();
    for (const [ago, allowed] of [
      [50, true],
      [40, true],
      [40, false],
      [5, true],
    ] as const)
      audit.write(
        buildHttpEvent({
          time: now - ago * 60_000,
          allowed,
          scheme: "https",
          host: "api.github.com",
          port: 443,
          method: allowed ? "GET" : "PUT",
          target: "/repos/acme/site",
          actor,
          policy: allowed ? "github_api" : null,
          engine: "l7",
        }),
      );
    audit.write(
      buildNetworkEvent({
        time: now - 3 * 3_600_000,
        allowed: false,
        host: "old.example",
        port: 443,
        actor,
        policy: null,
        engine: "l4",
      }),
    );
    audit.close();

    browser = await openBrowser();
    const { page, problems } = await firstPage(browser, 15_000);
    await page.goto((await h.op.inboxLoginCode()).url);
    await page.locator("body[data-live='1'][data-loaded='1']").waitFor();
    await chunkCard(page, put).waitFor();

    // The reach picture says, for a person and a screen reader, what the approval changes.
    const picture = chunkCard(page, put).getByRole("img");
    assert.match(
      (await picture.getAttribute("aria-label")) ?? "",
      /PUT api\.github\.com:443: nothing → some paths/,
    );
    assert.match(
      (await chunkCard(page, db).getByRole("img").getAttribute("aria-label")) ?? "",
      /GET db\.example:5432: nothing → any traffic, uninspected/,
    );

    // The timeline: one row per destination of the last hour, counted from the log.
    const timeline = page.locator('#timeline [data-sandbox="look-sandbox"]').getByRole("img");
    await timeline.waitFor();
    assert.equal(
      await timeline.getAttribute("aria-label"),
      "Sandbox look-sandbox, last hour: api.github.com:443: 3 allowed, 1 denied",
    );

    for (const size of SIZES) {
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.waitForTimeout(100); // layout settles
      assert.deepEqual(await overflowing(page), [], `${size.name}: nothing wider than the viewport`);
      await page.screenshot({ path: join(shots, `inbox-${size.name}.png`), fullPage: true });
    }
    // A path cell wraps at a "/" boundary, never inside a word.
    const words = await page
      .locator("#denies code")
      .first()
      .evaluate((node) => {
        const range = document.createRange();
        range.selectNodeContents(node);
        const lines = [...range.getClientRects()].map((r) => Math.round(r.top));
        return { lines: new Set(lines).size, text: node.textContent };
      });
    assert.ok(words.lines > 1, "the long path wraps on a phone");
    assert.deepEqual(await axeViolations(page), [], "no serious accessibility violations (phone)");
    await page.setViewportSize({ width: 1400, height: 900 });
    assert.deepEqual(await axeViolations(page), [], "no serious accessibility violations (desktop)");

    // One time format: relative, with the ISO time as its tooltip.
    const stamps = await page
      .locator("[data-at]")
      .evaluateAll((nodes) => nodes.map((n) => [n.textContent, n.getAttribute("title")]));
    assert.ok(stamps.length > 0);
    for (const [text, title] of stamps) {
      assert.match(text ?? "", /(\d+[smhd] ago|in \d+[smhd])$/);
      assert.match(title ?? "", /^\d{4}-\d{2}-\d{2}T/);
    }

    // A security-flagged approval restates the risk and waits for a confirmation.
    const dbCard = chunkCard(page, db);
    await dbCard.getByRole("button", { name: "Approve", exact: true }).click();
    const confirm = dbCard.getByRole("group", { name: /Confirm approving/ });
    assert.match((await confirm.textContent()) ?? "", /PostgreSQL port: direct database access/);
    await page.screenshot({ path: join(shots, "inbox-confirm.png") });
    assert.equal((await h.op.getChunk(db)).status, "pending");
    await confirm.getByRole("button", { name: "Cancel" }).click();
    assert.equal(await confirm.isVisible(), false);

    // Every approval shows an Undo for the revision it made; Undo puts the chunk back to pending.
    const undo = page.getByRole("button", {
      name: /Undo the approval of allow_pkg_example_443 \(revision 2\)/,
    });
    await undo.click();
    await chunkCard(page, decided).waitFor();
    assert.equal((await h.op.getChunk(decided)).status, "pending");
    assert.deepEqual(problems, []);
  } finally {
    await browser?.close();
    await link.stop();
    await h.dispose();
  }
});
