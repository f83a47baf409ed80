// $AIRLOCK_HOME/sandboxes/<name>/sandbox.json: what a supervisor records about its sandbox at
// the start (who runs it, where, with what) and at the end. Every writer goes through
// writeSandboxRecord, whose rename makes a write whole or absent: a reader never sees a torn
// record, and an interrupted write leaves the previous one.
import { readFileSync } from "node:fs";
// zod/mini, as the policy schema: the CLI reads records on commands that start in milliseconds.
import * as z from "zod/mini";
import { writeAtomically } from "./atomic-write.ts";
import { sandboxFiles } from "./home.ts";

/** Unknown fields are kept, so a rewrite (the end of a run) never drops what a newer writer added. */
export const SandboxRecordSchema = z.looseObject({
  name: z.string(),
  /** The supervisor's pid: the sandbox runs while it is alive and no end is recorded. */
  pid: z.int(),
  /** RFC 3339. */
  started: z.string(),
  workdir: z.string(),
  command: z.optional(z.string()),
  policy_file: z.nullable(z.string()),
  logs: z.string(),
  /** The sandbox CA's certificate. */
  ca: z.string(),
  ended: z.optional(z.string()),
  exit_code: z.optional(z.nullable(z.int())),
  /** The supervisor died without recording an end; a later start recorded it. */
  lost: z.optional(z.boolean()),
});
/** What a supervisor writes at the start of a run. */
export type SandboxRecord = z.infer<typeof SandboxRecordSchema>;

/**
 * A record as read back: one written by any version, or by hand, may lack fields, so each is
 * optional; but a field of the wrong type makes it no record at all (a pid that is not a number
 * is no running sandbox).
 */
const StoredRecordSchema = z.partial(SandboxRecordSchema);
export type StoredSandboxRecord = z.infer<typeof StoredRecordSchema>;

/** The record in sandbox folder `dir`; null when there is none or it is not a sandbox record. */
export function readSandboxRecord(dir: string): StoredSandboxRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(sandboxFiles(dir).record, "utf8"));
  } catch {
    return null;
  }
  const parsed = StoredRecordSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** Writes the record whole (a new run's, or one read back with its end added). */
export function writeSandboxRecord(dir: string, record: StoredSandboxRecord): void {
  writeAtomically(
    sandboxFiles(dir).record,
    `${JSON.stringify(StoredRecordSchema.parse(record), null, 2)}\n`,
    0o644,
  );
}
