// What of an agent's state file the sandbox may hand back to the host. Claude Code keeps its state
// in ~/.claude.json, and in the same file what the host's Claude Code obeys: the environment it
// gives every process it starts (`env`), the command it runs for an API key, MCP servers, which
// folders and tools it trusts, cached feature flags. The sandbox writes a private copy; at the end
// of the run each entry it changed is merged into the host's current file only when it is one
// nothing obeys (a counter, a tip shown, an onboarding flag, a project's last cost and timings)
// and its value has that entry's shape. Everything else is held back and reported. Pure.
import * as z from "zod/mini";
import { stableJson } from "../policy/canonical.ts";

type Schema = z.ZodMiniType<unknown>;

const count = z.int().check(z.nonnegative());
const time = z.number();
const flag = z.boolean();
/** A release (`2.1.328`): short, no spaces. */
const version = z.string().check(z.regex(/^[0-9A-Za-z.+-]{1,64}$/));
const counters = z.record(z.string().check(z.maxLength(200)), count);

/** Entries of a state file: top-level names, and names inside each `projects.<folder>`. */
export interface HarmlessEntries {
  global: Readonly<Record<string, Schema>>;
  project: Readonly<Record<string, Schema>>;
}

/**
 * Claude Code's own bookkeeping, read from what the real client writes (a first start, a `-p`
 * run, an interactive session) and a subset of the entries the client itself counts as
 * bookkeeping, not settings: counters, tips, hints and upsells shown, release notes seen,
 * onboarding done, plugin usage counts, the official marketplace's install retries (its source
 * is fixed in the client: no value here chooses what is installed), and per project the last
 * session's cost, timings, token counts and id. Not here, so held back: every setting (`claude config`), `env`,
 * `apiKeyHelper`, MCP servers and their approvals, trust, `allowedTools`, prompt `history` and
 * `exampleFiles` (text the developer may send again), cached feature flags and changelogs (what
 * the client obeys or shows as Anthropic's), migration markers (they skip a rewrite of settings),
 * warnings marked as shown (security warnings among them), notifications seen, account ids.
 */
export const CLAUDE_CODE_STATE: HarmlessEntries = {
  global: {
    numStartups: count,
    firstStartTime: z.iso.datetime(),
    firstStartVersion: version,
    hasCompletedOnboarding: flag,
    lastOnboardingVersion: version,
    lastReleaseNotesSeen: version,
    lastClawdEntranceVersion: version,
    tipsHistory: counters,
    tipLifetimeShownCounts: counters,
    memoryUsageCount: count,
    promptQueueUseCount: count,
    btwUseCount: count,
    queuedCommandUpHintCount: count,
    lspRecommendationIgnoredCount: count,
    promptSuggestionUnusedStreak: count,
    subscriptionNoticeCount: count,
    subscriptionUpsellShownCount: count,
    passesUpsellSeenCount: count,
    fullscreenUpsellSeenCount: count,
    voiceLangHintShownCount: count,
    voiceFooterHintSeenCount: count,
    experimentNoticesSeenCount: count,
    hasSeenTasksHint: flag,
    hasUsedStash: flag,
    hasUsedBackgroundTask: flag,
    pluginUsage: z.record(
      z.string().check(z.maxLength(200)),
      z.strictObject({ usageCount: count, lastUsedAt: time, lastUsedNumStartups: count }),
    ),
    officialMarketplaceAutoInstallAttempted: flag,
    officialMarketplaceAutoInstalled: flag,
    officialMarketplaceAutoInstallFailReason: z.string().check(z.regex(/^[A-Za-z_-]{0,64}$/)),
    officialMarketplaceAutoInstallRetryCount: count,
    officialMarketplaceAutoInstallLastAttemptTime: time,
    officialMarketplaceAutoInstallNextRetryTime: time,
  },
  project: {
    lastCost: z.number(),
    lastAPIDuration: time,
    lastAPIDurationWithoutRetries: time,
    lastToolDuration: time,
    lastDuration: time,
    lastStartTime: time,
    lastLinesAdded: count,
    lastLinesRemoved: count,
    lastTotalInputTokens: count,
    lastTotalOutputTokens: count,
    lastTotalCacheCreationInputTokens: count,
    lastTotalCacheReadInputTokens: count,
    lastTotalWebSearchRequests: count,
    lastFpsAverage: z.number(),
    lastFpsLow1Pct: z.number(),
    lastModelUsage: z.record(z.string().check(z.maxLength(200)), z.record(z.string(), z.number())),
    lastGracefulShutdown: flag,
    lastVersionBase: version,
    lastSessionId: z.uuid(),
    projectOnboardingSeenCount: count,
    hasCompletedProjectOnboarding: flag,
  },
};

type Doc = Record<string, unknown>;

export const isObject = (v: unknown): v is Doc => v !== null && typeof v === "object" && !Array.isArray(v);

/** Sets an own property whatever its name (`__proto__` included): never the prototype. */
function setOwn(target: Doc, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const own = (doc: unknown, key: string): unknown =>
  isObject(doc) && Object.hasOwn(doc, key) ? doc[key] : undefined;

/** An entry: `["numStartups"]`, or `["projects", folder, name]`. */
type Pointer = readonly string[];

/**
 * Every entry of a document, as its pointer and value: the top-level names, with `projects` read
 * one level down per folder (a `projects` or a project that is not an object is one entry).
 */
function stateEntries(doc: unknown): Map<string, { pointer: Pointer; value: unknown }> {
  const out = new Map<string, { pointer: Pointer; value: unknown }>();
  const add = (pointer: Pointer, value: unknown) => out.set(JSON.stringify(pointer), { pointer, value });
  if (!isObject(doc)) return out;
  for (const [name, value] of Object.entries(doc)) {
    if (name !== "projects" || !isObject(value)) {
      add([name], value);
      continue;
    }
    for (const [folder, project] of Object.entries(value)) {
      if (!isObject(project)) add([name, folder], project);
      else for (const [key, v] of Object.entries(project)) add([name, folder, key], v);
    }
  }
  return out;
}

/** The same JSON, whatever the order of keys (absent is only the same as absent). */
function same(a: { value: unknown } | undefined, b: { value: unknown } | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const [x, y] = [JSON.stringify(a.value), JSON.stringify(b.value)];
  return x === y || stableJson(a.value) === stableJson(b.value);
}

/** The schema of a harmless entry, or null when nothing proves the entry harmless. */
function schemaOf(pointer: Pointer, harmless: HarmlessEntries): Schema | null {
  const [first, folder, key] = pointer;
  if (pointer.length === 1 && first !== undefined && Object.hasOwn(harmless.global, first))
    return harmless.global[first] as Schema;
  if (pointer.length === 3 && first === "projects" && folder !== undefined && key !== undefined)
    return Object.hasOwn(harmless.project, key) ? (harmless.project[key] as Schema) : null;
  return null;
}

export interface EntryChange {
  /** As shown: `env`, `projects./w.hasTrustDialogAccepted`. */
  entry: string;
  change: "created" | "changed" | "removed";
  /** Harmless (and of its shape): merged into the host's file. */
  harmless: boolean;
  /** Written into the host's file (harmless, or everything with `applyAll`), unless the host
   * changed the same entry meanwhile: the host's value is kept. */
  applied: boolean;
}

export interface MergeResult {
  /** The host's document with the applied entries; null when nothing was applied. */
  merged: Doc | null;
  changes: EntryChange[];
}

/** Writes one entry into `doc`, making `projects.<folder>` when it is missing. */
function put(doc: Doc, pointer: Pointer, value: unknown): boolean {
  let node = doc;
  for (const name of pointer.slice(0, -1)) {
    const next = own(node, name);
    if (next === undefined) {
      const made: Doc = {};
      setOwn(node, name, made);
      node = made;
    } else if (isObject(next)) node = next;
    else return false; // the host holds something else there: its own, left alone
  }
  const last = pointer[pointer.length - 1] as string;
  if (value === undefined) {
    if (Object.hasOwn(node, last)) delete node[last];
  } else setOwn(node, last, value);
  return true;
}

/**
 * Merges what the sandbox changed in its copy (`start` → `copy`) into the host's current
 * document, entry by entry: harmless entries always, the others only with `applyAll`. An entry
 * the host changed since the start keeps the host's value. `host` null: the host has no file.
 */
export function mergeAgentState(
  start: unknown,
  copy: unknown,
  host: Doc | null,
  harmless: HarmlessEntries,
  applyAll: boolean,
): MergeResult {
  const before = stateEntries(start);
  const after = stateEntries(copy);
  const hostNow = host === null ? null : stateEntries(host);
  const merged = JSON.parse(JSON.stringify(host ?? {})) as Doc;
  const changes: EntryChange[] = [];
  let wrote = false;
  const keys = [...new Set([...before.keys(), ...after.keys()])];
  for (const key of keys) {
    const then = before.get(key);
    const now = after.get(key);
    if (same(then, now)) continue;
    const pointer = (now ?? then)?.pointer as Pointer;
    const value = now?.value;
    const schema = schemaOf(pointer, harmless);
    const isHarmless = schema !== null && (value === undefined || schema.safeParse(value).success);
    const hostKept = !same(hostNow?.get(key), then);
    let applied = false;
    if ((isHarmless || applyAll) && !hostKept) applied = put(merged, pointer, value);
    wrote ||= applied;
    changes.push({
      entry: pointer.join("."),
      change: then === undefined ? "created" : now === undefined ? "removed" : "changed",
      harmless: isHarmless,
      applied,
    });
  }
  return { merged: wrote ? merged : null, changes };
}
