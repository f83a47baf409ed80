// Web inbox login and cookie sessions over real HTTP, without a browser: one-time codes, the
// session cookie, the CSRF header, and GET /v1/inbox/state.
import assert from "node:assert/strict";
import { test } from "node:test";
import { InboxSessions, LOGIN_CODE_TTL_MS, SESSION_TTL_MS } from "../../src/gateway/inbox-sessions.ts";
import { addRule, BASE_POLICY, putRule } from "./fixtures.ts";
import { startHarness } from "./harness.ts";

// A fresh bound for each request.
const bounded = () => ({ signal: AbortSignal.timeout(10_000) });

async function login(url: string): Promise<{
  status: number;
  body: unknown;
  cookie: string | null;
  location: string | null;
  setCookie: string;
}> {
  const res = await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(10_000) });
  const setCookie = res.headers.get("set-cookie") ?? "";
  const text = await res.text();
  return {
    status: res.status,
    body: text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text,
    cookie: /^(airlock_inbox=[^;]+)/.exec(setCookie)?.[1] ?? null,
    location: res.headers.get("location"),
    setCookie,
  };
}

test("inbox login: one-time code → HttpOnly SameSite=Strict session cookie; the cookie acts as the operator", async () => {
  let now = Date.now();
  const sessions = new InboxSessions(() => now);
  const h = await startHarness({ inboxSessions: sessions });
  try {
    const base = h.gw.url;
    const reg = await h.op.register("sb", BASE_POLICY);
    await h.op.setSetting("agent_policy_proposals_enabled", true);

    // The page itself is public (it holds no secret) and locked down by CSP.
    const page = await fetch(`${base}/inbox`, bounded());
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'sha256-[^']+'/);
    assert.match(await page.text(), /Airlock inbox/);

    // No cookie, no token: 401 JSON.
    const anon = await fetch(`${base}/v1/inbox/state`, bounded());
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { error: string }).error, "unauthorized");

    // Codes are minted with the operator token only.
    const bySandbox = await fetch(`${base}/v1/inbox/login-codes`, {
      method: "POST",
      headers: { authorization: `Bearer ${reg.token}` },
      ...bounded(),
    });
    assert.equal(bySandbox.status, 403);
    const { url, expires_at } = await h.op.inboxLoginCode();
    assert.match(url, new RegExp(`^${base}/inbox/login\\?code=[A-Za-z0-9_-]{20,}$`));
    assert.equal(Date.parse(expires_at) - now, LOGIN_CODE_TTL_MS);

    const ok = await login(url);
    assert.equal(ok.status, 303);
    assert.equal(ok.location, "/inbox");
    assert.ok(ok.cookie, ok.setCookie);
    assert.match(ok.setCookie, /HttpOnly/i);
    assert.match(ok.setCookie, /SameSite=Strict/i);
    assert.match(ok.setCookie, /Path=\//);
    const cookie = ok.cookie as string;

    // Single use; unknown and missing codes say what to do.
    const reused = await login(url);
    assert.equal(reused.status, 400);
    assert.equal((reused.body as { error: string }).error, "login_code_used");
    assert.match((reused.body as { detail: string }).detail, /airlock inbox/);
    assert.equal(reused.cookie, null);
    const forged = await login(`${base}/inbox/login?code=nope`);
    assert.deepEqual([forged.status, (forged.body as { error: string }).error], [401, "invalid_login_code"]);
    const missing = await login(`${base}/inbox/login`);
    assert.deepEqual([missing.status, (missing.body as { error: string }).error], [400, "invalid_request"]);

    // Expired after five minutes.
    const late = await h.op.inboxLoginCode();
    now += LOGIN_CODE_TTL_MS + 1;
    const expired = await login(late.url);
    assert.deepEqual(
      [expired.status, (expired.body as { error: string }).error],
      [401, "login_code_expired"],
    );
    assert.match((expired.body as { detail: string }).detail, /expired/);

    // The cookie reads as the operator...
    const sub = await h.op.withToken(reg.token).submit("sb", {
      operations: [addRule("put_x", putRule()), addRule("put_y", putRule("/repos/o/r/contents/y.md"))],
    });
    const [x, y] = sub.accepted_chunk_ids as [string, string];
    const state = await fetch(`${base}/v1/inbox/state`, { headers: { cookie }, ...bounded() });
    assert.equal(state.status, 200);
    const body = (await state.json()) as {
      pending: { id: string; diff: string[]; rendered_endpoints: string[] }[];
      asks: unknown[];
    };
    assert.deepEqual(
      body.pending.map((c) => c.id),
      [x, y],
    );
    assert.deepEqual(body.pending[0]?.rendered_endpoints, [
      "api.github.com:443 [L7 rest, allow PUT /repos/o/r/contents/x.md]",
    ]);
    assert.deepEqual(body.pending[0]?.diff, [
      "+ rule put_x: /usr/bin/curl",
      "+   api.github.com:443 [L7 rest, allow PUT /repos/o/r/contents/x.md]",
    ]);
    assert.deepEqual(body.asks, []);

    // ...but a state-changing request needs the inbox header (a cross-site form cannot send it).
    const post = (path: string, headers: Record<string, string>, json: unknown = {}) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json", ...headers },
        body: JSON.stringify(json),
        ...bounded(),
      });
    const noHeader = await post(`/v1/chunks/${x}/reject`, {}, { reason: "no" });
    assert.equal(noHeader.status, 403);
    assert.match(((await noHeader.json()) as { detail: string }).detail, /x-airlock-inbox: 1/);
    const foreign = await post(`/v1/chunks/${x}/reject`, {
      "x-airlock-inbox": "1",
      origin: "https://evil.example",
    });
    assert.equal(foreign.status, 403);
    assert.equal((await h.op.getChunk(x)).status, "pending");
    const rejected = await post(
      `/v1/chunks/${x}/reject`,
      { "x-airlock-inbox": "1", origin: base },
      { reason: "not now" },
    );
    assert.equal(rejected.status, 200);
    const decided = await h.op.getChunk(x);
    assert.deepEqual(
      [decided.status, decided.rejection_reason, decided.decided_by],
      ["rejected", "not now", "inbox"],
    );
    // A session cannot mint more login links.
    assert.equal((await post("/v1/inbox/login-codes", { "x-airlock-inbox": "1" })).status, 403);

    // EventSource sends the cookie: the event stream accepts it.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    const events = await fetch(`${base}/v1/events`, { headers: { cookie }, signal: abort.signal });
    assert.equal(events.status, 200);
    assert.match(events.headers.get("content-type") ?? "", /text\/event-stream/);
    abort.abort();
    clearTimeout(timer);
    await events.body?.cancel().catch(() => undefined);

    // Sessions end: on logout, and after their lifetime.
    const second = await login((await h.op.inboxLoginCode()).url);
    const cookie2 = second.cookie as string;
    const out = await fetch(`${base}/v1/inbox/logout`, {
      method: "POST",
      headers: { cookie: cookie2, "x-airlock-inbox": "1" },
      ...bounded(),
    });
    assert.equal(out.status, 200);
    assert.equal(
      (await fetch(`${base}/v1/inbox/state`, { headers: { cookie: cookie2 }, ...bounded() })).status,
      401,
    );
    assert.equal((await fetch(`${base}/v1/inbox/state`, { headers: { cookie }, ...bounded() })).status, 200);
    now += SESSION_TTL_MS + 1;
    const stale = await fetch(`${base}/v1/inbox/state`, { headers: { cookie }, ...bounded() });
    assert.equal(stale.status, 401);
    assert.match(((await stale.json()) as { detail: string }).detail, /airlock inbox/);
  } finally {
    await h.dispose();
  }
});
