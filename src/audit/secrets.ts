// Secret-shaped text removed from a free line (an ask's summary of a tool call) before it is
// stored or shown: env assignment values, credentials in flags and headers, URL userinfo and
// queries, and token-shaped words. Errs on the side of hiding. Pure.
import { oneLine, truncateUtf8 } from "./redact.ts";

export const REDACTED = "[redacted]";

const SECRET_NAME =
  "(?:pass(?:word|wd)?|token|secret|api[-_]?key|apikey|auth|credentials?|private[-_]?key|key)";

const RULES: [RegExp, string][] = [
  // URL userinfo and query strings: https://user:pw@host/p?x=1 → https://[redacted]@host/p?[redacted]
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@'"]+@/gi, `$1${REDACTED}@`],
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s'"?#]*)\?[^\s'"#]*/gi, "$1?[redacted]"],
  // Bearer/Basic credentials anywhere.
  [/\b(Bearer|Basic|Token)\s+[^\s'"]+/gi, `$1 ${REDACTED}`],
  // Header-like `Authorization: x`, `X-Api-Key: x`, `Cookie: x`.
  [
    /\b((?:authorization|proxy-authorization|cookie|set-cookie|x-[a-z-]*(?:key|token|secret|auth)[a-z-]*)\s*:\s*)(?!\s|\[redacted\])[^'"\n]+/gi,
    `$1${REDACTED}`,
  ],
  // --password=x, --token x, -p x (mysql style is too ambiguous; named flags only).
  [
    new RegExp(
      `(--?[a-z0-9-]*${SECRET_NAME}[a-z0-9-]*)(=|\\s+)(?!\\[redacted\\])("[^"]*"|'[^']*'|[^\\s'"]+)`,
      "gi",
    ),
    `$1$2${REDACTED}`,
  ],
  // Environment assignments at the start of a word: FOO=bar cmd, export FOO=bar, env A=b.
  [/(^|[\s;&|(])([A-Za-z_][A-Za-z0-9_]*)=(?!\[redacted\])("[^"]*"|'[^']*'|[^\s;&|)]*)/g, `$1$2=${REDACTED}`],
  // JSON/YAML-ish `"token": "x"`, `password: x`.
  [
    new RegExp(
      `(["']?[a-z0-9_-]*${SECRET_NAME}[a-z0-9_-]*["']?\\s*:\\s*)(?!\\[redacted\\])("[^"]*"|'[^']*'|[^\\s,}'"]+)`,
      "gi",
    ),
    `$1${REDACTED}`,
  ],
  // Token shapes: GitHub, OpenAI/Anthropic, Slack, AWS keys, JWTs, PEM blocks.
  [
    /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_-]{16,}|xox[abposr]-[A-Za-z0-9-]{10,}|A[KS]IA[0-9A-Z]{16})\b/g,
    REDACTED,
  ],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/g, REDACTED],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  // Any long token-looking word: 32+ letters and digits mixed (hex, base64url), not a path.
  [/(?<![\w/+=.-])(?=[\w+-]*\d)(?=[\w+-]*[A-Za-z])[\w+-]{32,}={0,2}(?![\w/+=.-])/g, REDACTED],
];

/** Secrets removed, one printable line, at most `maxBytes`. Idempotent. */
export function redactSecretsIn(text: string, maxBytes = 400): string {
  let out = text;
  for (const [re, to] of RULES) out = out.replace(re, to);
  out = oneLine(out.replace(/\s+/g, " ").trim());
  const cut = truncateUtf8(out, maxBytes);
  return cut === out ? out : `${truncateUtf8(out, maxBytes - 3)}...`;
}
