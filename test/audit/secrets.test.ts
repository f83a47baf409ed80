// Ask summaries: secrets never survive redactSecretsIn; ordinary commands stay readable.
import assert from "node:assert/strict";
import { test } from "node:test";
import { redactSecretsIn } from "../../src/audit/secrets.ts";
import { summarizeCall } from "../../src/gate/ask-summary.ts";

test("secret-shaped text is removed, the rest stays readable", () => {
  const cases: [string, string][] = [
    [
      `curl -H "Authorization: Bearer abc.def" https://u:pw@api.x.com/p?token=1&b=2`,
      `curl -H "Authorization: [redacted]" https://[redacted]@api.x.com/p?[redacted]`,
    ],
    ["AWS_SECRET_ACCESS_KEY=abcd1234 aws s3 ls", "AWS_SECRET_ACCESS_KEY=[redacted] aws s3 ls"],
    ["export X='y z' && env A=b make", "export X=[redacted] && env A=[redacted] make"],
    ["mysql --password=hunter2 -u root db", "mysql --password=[redacted] -u root db"],
    ["gh api --token ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaaa repos", "gh api --token [redacted] repos"],
    ["echo sk-ant-abcdefghijklmnopqrstu", "echo [redacted]"],
    [`curl -d '{"api_key": "zzz"}' https://x.com`, `curl -d '{"api_key": [redacted]}' https://x.com`],
    ["x 0123456789abcdef0123456789abcdef01 y", "x [redacted] y"],
    ["git commit -m 'fix\nDROP'", "git commit -m 'fix DROP'"],
    ["npm publish --tag next", "npm publish --tag next"],
    [
      "ls /usr/lib/x86_64-linux-gnu/libfoo_bar_baz_qux_quux.so.1",
      "ls /usr/lib/x86_64-linux-gnu/libfoo_bar_baz_qux_quux.so.1",
    ],
  ];
  for (const [input, want] of cases) {
    assert.equal(redactSecretsIn(input), want, input);
    assert.equal(redactSecretsIn(want), want, `idempotent: ${want}`);
  }
  assert.ok(Buffer.byteLength(redactSecretsIn("a ".repeat(1000))) <= 400);
});

test("call summaries show argument values with secrets redacted, and leave out URL queries", () => {
  // The developer decides on what the call does, not on the names the agent chose.
  assert.equal(
    summarizeCall({
      kind: "mcp",
      server: "db",
      tool: "query",
      arguments: {
        sql: "SELECT pw",
        dsn: "postgres://u:hunter2secretpass@db/x",
        token: "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      },
    }),
    'mcp db/query {"dsn":"postgres://[redacted]@db/x","sql":"SELECT pw","token":[redacted]}',
  );
  assert.equal(
    summarizeCall({ kind: "fetch", method: "get", url: "https://user:pw@h.example/p/q?k=v#f" }),
    "GET https://h.example/p/q?[redacted]",
  );
  assert.equal(summarizeCall({ kind: "tool", name: "Task", input: {} }), "tool Task (no input)");
  assert.equal(summarizeCall({ kind: "file_write", path: "/w/.env" }), "write /w/.env");
});
