// The web inbox shows text the sandbox wrote: a proposal's intent, rationale, rule name and
// binary path. A bidi override there (U+202E) reorders what the reviewer reads (a binary path
// that ends in `lruc/nib/rsu/` shows as `/usr/bin/curl`), and control characters forge lines.
// In a real browser (playwright-core driving Debian's chromium), every one must show as `?`.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { compilePolicy } from "../../src/policy/engine.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { GatewayLink } from "../../src/supervisor/gateway-link.ts";
import { submitProposal } from "../../src/supervisor/proposals.ts";
import { CHROMIUM, chunkCard, firstPage, type OpenBrowser, openBrowser } from "../gateway/browser.ts";
import { addRule, BASE_POLICY, eventually } from "../gateway/fixtures.ts";
import { startHarness } from "../gateway/harness.ts";

const RLO = "\u202e";
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSHOWABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

test("the web inbox shows the sandbox's text with its controls and bidi overrides as ?", {
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
    const res = await submitProposal(link, {
      intent_summary: `read the docs${RLO}moc.elpmaxe.ipa\u2066 \u001b[8m\u0085`,
      rationale: `needed${RLO}\u2028forged line`,
      operations: [
        addRule("docs", {
          endpoints: [{ host: "**.example.com", port: 443 }],
          binaries: [{ path: `/tmp/x/${RLO}lruc/nib/rsu` }],
        }),
      ],
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const [id] = res.body.accepted_chunk_ids as string[];
    browser = await openBrowser();
    const { page } = await firstPage(browser, 15_000);
    await page.goto((await h.op.inboxLoginCode()).url);
    await page.locator("body[data-live='1'][data-loaded='1']").waitFor();
    const card = chunkCard(page, id as string);
    await card.waitFor();
    const text = (await card.textContent()) ?? "";
    assert.match(text, /read the docs\?moc\.elpmaxe\.ipa\?/);
    assert.match(text, /\/tmp\/x\/\?lruc\/nib\/rsu/);
    assert.doesNotMatch(text, UNSHOWABLE, JSON.stringify(text));
    const page_ = (await page.locator("body").textContent()) ?? "";
    assert.doesNotMatch(page_, UNSHOWABLE, "nowhere on the page");
  } finally {
    await browser?.close();
    await link.stop();
    await h.stop();
  }
});
