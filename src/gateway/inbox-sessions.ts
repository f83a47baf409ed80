// Web inbox login: one-time login codes (minted with the operator token by `airlock inbox`) and the
// browser sessions they open. In memory: a gateway restart logs browsers out (run `airlock inbox`
// again); with several replicas, log in on the replica that minted the code.
// Secrets are kept only as SHA-256 digests and compared with timingSafeEqual.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const LOGIN_CODE_TTL_MS = 5 * 60 * 1000;
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;
export const SESSION_COOKIE = "airlock_inbox";

export type CodeOutcome =
  | { ok: true; session: string; expiresAt: Date }
  | { ok: false; status: 400 | 401; error: string; detail: string };

interface CodeEntry {
  digest: Buffer;
  expiresAt: number;
  used: boolean;
}

function digest(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

export class InboxSessions {
  private codes: CodeEntry[] = [];
  private sessions = new Map<string, number>(); // hex digest of the session id → expiry (ms)

  constructor(private readonly clock: () => number = Date.now) {}

  /** A fresh single-use code, valid for five minutes. */
  issueCode(): { code: string; expiresAt: Date } {
    this.prune();
    const code = randomBytes(24).toString("base64url");
    const expiresAt = this.clock() + LOGIN_CODE_TTL_MS;
    this.codes.push({ digest: digest(code), expiresAt, used: false });
    return { code, expiresAt: new Date(expiresAt) };
  }

  /** Consumes `code` (once) and opens a session; says why when it cannot. */
  redeem(code: string | undefined): CodeOutcome {
    if (!code)
      return {
        ok: false,
        status: 400,
        error: "invalid_request",
        detail: "missing ?code=; run `airlock inbox` for a login link",
      };
    const now = this.clock();
    const wanted = digest(code);
    // Compare against every entry (constant time each, no early exit on a match).
    let found: CodeEntry | undefined;
    for (const entry of this.codes) if (timingSafeEqual(entry.digest, wanted)) found = entry;
    if (!found)
      return {
        ok: false,
        status: 401,
        error: "invalid_login_code",
        detail: "unknown login code; run `airlock inbox` for a new login link",
      };
    if (found.used)
      return {
        ok: false,
        status: 400,
        error: "login_code_used",
        detail: "this login link was already used; run `airlock inbox` for a new one",
      };
    if (found.expiresAt <= now)
      return {
        ok: false,
        status: 401,
        error: "login_code_expired",
        detail: "this login link has expired (links last 5 minutes); run `airlock inbox` for a new one",
      };
    found.used = true;
    const session = randomBytes(32).toString("base64url");
    const expiresAt = now + SESSION_TTL_MS;
    this.sessions.set(digest(session).toString("hex"), expiresAt);
    return { ok: true, session, expiresAt: new Date(expiresAt) };
  }

  /** True while `session` is a live session id. */
  valid(session: string | undefined): boolean {
    if (!session) return false;
    const key = digest(session).toString("hex");
    const expiresAt = this.sessions.get(key);
    if (expiresAt === undefined) return false;
    if (expiresAt <= this.clock()) {
      this.sessions.delete(key);
      return false;
    }
    return true;
  }

  end(session: string | undefined): void {
    if (session) this.sessions.delete(digest(session).toString("hex"));
  }

  /** Drops expired codes (used ones are kept until then, to say "already used") and sessions. */
  private prune(): void {
    const now = this.clock();
    this.codes = this.codes.filter((c) => c.expiresAt > now);
    for (const [key, expiresAt] of this.sessions) if (expiresAt <= now) this.sessions.delete(key);
  }
}
