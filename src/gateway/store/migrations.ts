// Schema migrations, numbered and applied once each inside a transaction. Both backends share the
// text; `{serial}` is the one dialect difference (an auto-incrementing integer key).
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "sandboxes, revisions, chunks, decisions, denies, settings, events",
    sql: `
CREATE TABLE sandboxes (
  name TEXT PRIMARY KEY, token_hash TEXT NOT NULL, head_version INTEGER NOT NULL, head_hash TEXT NOT NULL,
  loaded_version INTEGER, created_at TEXT NOT NULL, registered_at TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE revisions (
  sandbox TEXT NOT NULL REFERENCES sandboxes(name), version INTEGER NOT NULL, hash TEXT NOT NULL,
  status TEXT NOT NULL, policy TEXT NOT NULL, provenance TEXT NOT NULL, detail TEXT,
  created_at TEXT NOT NULL, status_at TEXT, PRIMARY KEY (sandbox, version)
);
CREATE TABLE chunks (
  id TEXT PRIMARY KEY, sandbox TEXT NOT NULL REFERENCES sandboxes(name), status TEXT NOT NULL,
  dedup_key TEXT, expires_at TEXT, seq INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE INDEX chunks_by_sandbox ON chunks (sandbox, status, seq);
CREATE INDEX chunks_by_dedup ON chunks (sandbox, dedup_key);
CREATE INDEX chunks_by_expiry ON chunks (status, expires_at);
CREATE TABLE decisions (
  id {serial}, sandbox TEXT NOT NULL, chunk_id TEXT, action TEXT NOT NULL, actor TEXT NOT NULL,
  revision INTEGER, reason TEXT, at TEXT NOT NULL
);
CREATE INDEX decisions_by_chunk ON decisions (chunk_id);
CREATE TABLE denies (
  sandbox TEXT NOT NULL, key TEXT NOT NULL, exe TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL,
  layer TEXT NOT NULL, method TEXT, path TEXT, reason TEXT, count INTEGER NOT NULL,
  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, PRIMARY KEY (sandbox, key)
);
CREATE TABLE settings (
  scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE TABLE events (id {serial}, type TEXT NOT NULL, sandbox TEXT, data TEXT NOT NULL, at TEXT NOT NULL);
`,
  },
  {
    version: 2,
    description: "gate asks",
    sql: `
CREATE TABLE asks (
  id TEXT PRIMARY KEY, sandbox TEXT, session TEXT, tool TEXT NOT NULL, input_digest TEXT NOT NULL,
  summary TEXT NOT NULL, tier INTEGER NOT NULL, step TEXT NOT NULL, rule TEXT, reason TEXT NOT NULL,
  status TEXT NOT NULL, decided_by TEXT, decision_reason TEXT, created_at TEXT NOT NULL,
  decided_at TEXT, expires_at TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX asks_by_status ON asks (status, seq);
CREATE INDEX asks_by_expiry ON asks (status, expires_at);
`,
  },
];

export function migrationSql(m: Migration, serial: string): string[] {
  return m.sql
    .replaceAll("{serial}", serial)
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
