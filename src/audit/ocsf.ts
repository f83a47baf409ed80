// OCSF event builders (docs/design.md §4.4): NET 4001, HTTP 4002, CONFIG 5019, PROC 1007, FILE 1001, each a
// valid instance of its class in the schema version below (test/audit/ocsf-valid.test.ts checks
// the events of real runs against the compiled schema source). Pure: every input is a value (time
// included); redaction happens here, when the event is built.
import { oneLine, redactedUrl, redactQueryIn, splitTarget } from "./redact.ts";

export const OCSF_VERSION = "1.8.0";

export type Severity = "INFO" | "LOW" | "MED" | "HIGH" | "CRIT";
export const SEVERITY_ID: Record<Severity, number> = { INFO: 1, LOW: 2, MED: 3, HIGH: 4, CRIT: 5 };
const SEVERITY_NAME: Record<Severity, string> = {
  INFO: "Informational",
  LOW: "Low",
  MED: "Medium",
  HIGH: "High",
  CRIT: "Critical",
};

/** What the proxy knows about the process behind a connection. */
export interface ActorInfo {
  binary: string;
  pid?: number;
  ancestors?: readonly string[];
}

export interface OcsfEvent {
  class_uid: number;
  class_name: string;
  category_uid: number;
  activity_id: number;
  activity_name: string;
  type_uid: number;
  action_id?: number;
  action?: string;
  disposition_id?: number;
  disposition?: string;
  severity_id: number;
  severity: string;
  time: number;
  message: string;
  status_detail?: string;
  dst_endpoint?: { hostname: string; port: number; ip?: string };
  actor?: { process: OcsfProcess } | { app_name: string };
  process?: OcsfProcess;
  /** The sandbox, as the device a config change or a process belongs to. */
  device?: { type_id: 6; type: "Virtual"; name: string };
  exit_code?: number;
  http_request?: {
    http_method: string;
    url: { scheme: string; hostname: string; port: number; path: string; url_string: string };
  };
  firewall_rule?: { name: string; type: string; desc?: string };
  file?: { path: string; name: string; type_id: 1 | 2; type: "Regular File" | "Folder" };
  file_result?: { path: string; name: string; type_id: 1 | 2; type: "Regular File" | "Folder" };
  metadata: { version: string; product: { name: string; vendor_name: string; feature?: { name: string } } };
  /** Airlock's own fields: the shorthand line is rendered from these. */
  unmapped: {
    airlock: {
      shorthand: string;
      layer?: string;
      audit_violation?: string;
      sandbox?: string;
      /** Chunk decisions: which proposal, who decided, whether auto-approval did. */
      chunk?: string;
      decided_by?: string;
      auto?: boolean;
      /** The host tool that runs or obeys a file the sandbox left (FILE events). */
      host_tool?: string;
      /** What a config event loaded or decided (5019 has no attribute for it). */
      config?: { name: string; version?: number; hash?: string };
    };
  };
}

interface OcsfProcess {
  pid?: number;
  file: { path: string; name: string; type_id: 1; type: "Regular File" };
  /** The ancestors' executables, parent first. */
  ancestry?: { path: string; name: string }[];
}

function metadata(feature: string): OcsfEvent["metadata"] {
  return {
    version: OCSF_VERSION,
    product: { name: "Airlock", vendor_name: "Airlock", feature: { name: feature } },
  };
}

function processOf(actor: ActorInfo): OcsfProcess {
  const ancestry = (actor.ancestors ?? []).map((path) => ({ path, name: baseName(path) }));
  return {
    ...(actor.pid !== undefined ? { pid: actor.pid } : {}),
    file: { path: actor.binary, name: baseName(actor.binary), type_id: 1, type: "Regular File" },
    ...(ancestry.length > 0 ? { ancestry } : {}),
  };
}

/**
 * The actor behind a connection. OCSF needs a process to carry a pid; a connection whose owner
 * could not be identified has none, so it is named as an application instead.
 */
function actorOf(actor: ActorInfo): NonNullable<OcsfEvent["actor"]> {
  return actor.pid === undefined ? { app_name: actor.binary } : { process: processOf(actor) };
}

function sandboxDevice(sandbox: string | undefined): NonNullable<OcsfEvent["device"]> {
  return { type_id: 6, type: "Virtual", name: sandbox ?? "airlock" };
}

function baseName(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? path : path.slice(i + 1);
}

/** `<RFC3339 ms UTC>`: the time prefix of every shorthand line. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}

function verdict(allowed: boolean, auditViolation?: string): { word: string; action: string } {
  if (!allowed) return { word: "DENIED", action: "Denied" };
  return auditViolation ? { word: "AUDIT", action: "Allowed" } : { word: "ALLOWED", action: "Allowed" };
}

function decisionFields(allowed: boolean, severity: Severity) {
  return {
    action_id: allowed ? 1 : 2,
    action: allowed ? "Allowed" : "Denied",
    disposition_id: allowed ? 1 : 2,
    disposition: allowed ? "Allowed" : "Blocked",
    severity_id: SEVERITY_ID[severity],
    severity: SEVERITY_NAME[severity],
  };
}

function tags(policy: string | null, engine: string, reason: string | undefined, actor: ActorInfo): string {
  const parts = [`[policy:${policy ?? "-"} engine:${engine}]`];
  if (reason) parts.push(`[reason:${oneLine(redactQueryIn(reason))}]`);
  parts.push(`[binary:${oneLine(actor.binary)}]`);
  return parts.join(" ");
}

export interface NetworkEventInput {
  time: number;
  allowed: boolean;
  host: string;
  port: number;
  /** The address actually dialled (after the SSRF guard), when there was one. */
  ip?: string;
  actor: ActorInfo;
  policy: string | null;
  /** Which check decided: l4, ssrf, identity, limits, upstream... */
  engine: string;
  reason?: string;
  severity?: Severity;
  sandbox?: string;
  /** The end of an allowed connection (an upgraded one: its reason says how many bytes each way). */
  closed?: boolean;
}

/** NET 4001: a CONNECT (or forward-proxy host:port) decision, opened or refused; or its end. */
export function buildNetworkEvent(input: NetworkEventInput): OcsfEvent {
  const severity = input.severity ?? (input.allowed ? "INFO" : "MED");
  const activity = input.closed
    ? { id: 2, name: "Close" }
    : input.allowed
      ? { id: 1, name: "Open" }
      : { id: 5, name: "Refuse" };
  const word = input.closed ? "CLOSED" : verdict(input.allowed).word;
  const host = oneLine(input.host);
  const reason = input.reason === undefined ? undefined : oneLine(redactQueryIn(input.reason));
  const shorthand = `NET:${activity.name.toUpperCase()} [${severity}] ${word} CONNECT ${host}:${input.port} ${tags(
    input.policy,
    input.engine,
    reason,
    input.actor,
  )}`;
  return {
    class_uid: 4001,
    class_name: "Network Activity",
    category_uid: 4,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: 4001 * 100 + activity.id,
    ...decisionFields(input.allowed, severity),
    time: input.time,
    message: `${word} CONNECT ${host}:${input.port}`,
    ...(reason ? { status_detail: reason } : {}),
    dst_endpoint: { hostname: host, port: input.port, ...(input.ip ? { ip: input.ip } : {}) },
    actor: actorOf(input.actor),
    firewall_rule: { name: input.policy ?? "-", type: input.engine, ...(reason ? { desc: reason } : {}) },
    metadata: metadata("proxy"),
    unmapped: { airlock: { shorthand, layer: "l4", ...(input.sandbox ? { sandbox: input.sandbox } : {}) } },
  };
}

/** HTTP Activity's activity per method, with the schema's caption for it. */
const HTTP_ACTIVITY: Record<string, [number, string]> = {
  CONNECT: [1, "Connect"],
  DELETE: [2, "Delete"],
  GET: [3, "Get"],
  HEAD: [4, "Head"],
  OPTIONS: [5, "Options"],
  POST: [6, "Post"],
  PUT: [7, "Put"],
  TRACE: [8, "Trace"],
  PATCH: [9, "Patch"],
};

export interface HttpEventInput {
  time: number;
  allowed: boolean;
  scheme: "http" | "https";
  host: string;
  port: number;
  method: string;
  /** Origin-form target as received; its query is redacted here. */
  target: string;
  actor: ActorInfo;
  policy: string | null;
  engine: string;
  reason?: string;
  auditViolation?: string;
  /** Upstream status, when the request was forwarded. */
  status?: number;
  severity?: Severity;
  sandbox?: string;
}

/** HTTP 4002: one request decided at L7 (or forwarded plain HTTP). */
export function buildHttpEvent(input: HttpEventInput): OcsfEvent {
  const method = oneLine(input.method.toUpperCase());
  const severity = input.severity ?? (!input.allowed ? "MED" : input.auditViolation ? "LOW" : "INFO");
  const [activityId, activityName] = HTTP_ACTIVITY[method] ?? [99, method];
  const host = oneLine(input.host);
  const url = redactedUrl(input.scheme, host, input.port, input.target);
  const { path } = splitTarget(input.target);
  const { word } = verdict(input.allowed, input.auditViolation);
  const reasonText = input.auditViolation ?? input.reason;
  const reason = reasonText === undefined ? undefined : oneLine(redactQueryIn(reasonText));
  const shorthand = `HTTP:${method} [${severity}] ${word} ${method} ${url} ${tags(
    input.policy,
    input.engine,
    reason,
    input.actor,
  )}`;
  return {
    class_uid: 4002,
    class_name: "HTTP Activity",
    category_uid: 4,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: 4002 * 100 + activityId,
    ...decisionFields(input.allowed, severity),
    time: input.time,
    message: `${word} ${method} ${url}`,
    ...(reason ? { status_detail: reason } : {}),
    dst_endpoint: { hostname: host, port: input.port },
    actor: actorOf(input.actor),
    http_request: {
      http_method: method,
      url: { scheme: input.scheme, hostname: host, port: input.port, path: oneLine(path), url_string: url },
    },
    firewall_rule: { name: input.policy ?? "-", type: input.engine, ...(reason ? { desc: reason } : {}) },
    metadata: metadata("proxy"),
    unmapped: {
      airlock: {
        shorthand,
        layer: input.engine,
        ...(input.auditViolation ? { audit_violation: oneLine(redactQueryIn(input.auditViolation)) } : {}),
        ...(input.sandbox ? { sandbox: input.sandbox } : {}),
      },
    },
  };
}

export interface ConfigEventInput {
  time: number;
  ok: boolean;
  /** What was loaded: "policy" for a network policy generation. */
  name: string;
  version?: number;
  hash?: string;
  detail?: string;
  sandbox?: string;
}

/** CONFIG 5019 (Device Config State Change): a policy generation loaded or refused. */
export function buildConfigEvent(input: ConfigEventInput): OcsfEvent {
  const severity: Severity = input.ok ? "INFO" : "HIGH";
  const word = input.ok ? "LOADED" : "FAILED";
  const version = input.version === undefined ? "" : ` version:${input.version}`;
  const hash = input.hash ? ` hash:${input.hash.slice(0, 16)}` : "";
  const detail = input.detail ? ` [detail:${oneLine(input.detail)}]` : "";
  const shorthand = `CONFIG:${word} [${severity}] ${word} ${oneLine(input.name)}${version}${hash}${detail}`;
  return {
    class_uid: 5019,
    class_name: "Device Config State Change",
    category_uid: 5,
    activity_id: input.ok ? 1 : 99,
    activity_name: input.ok ? "Log" : "Other",
    type_uid: 5019 * 100 + (input.ok ? 1 : 99),
    severity_id: SEVERITY_ID[severity],
    severity: SEVERITY_NAME[severity],
    time: input.time,
    message: `${word} ${input.name}`,
    ...(input.detail ? { status_detail: oneLine(input.detail) } : {}),
    device: sandboxDevice(input.sandbox),
    metadata: metadata("supervisor"),
    unmapped: {
      airlock: {
        shorthand,
        config: {
          name: input.name,
          ...(input.version !== undefined ? { version: input.version } : {}),
          ...(input.hash ? { hash: input.hash } : {}),
        },
        ...(input.sandbox ? { sandbox: input.sandbox } : {}),
      },
    },
  };
}

export interface DecisionEventInput {
  time: number;
  status: "approved" | "rejected";
  ruleName: string;
  chunkId: string;
  by: string;
  /** Approved by `approval_mode: auto` inside the operator's ceiling. */
  auto: boolean;
  revision?: number | null;
  reason?: string | null;
  /** The most severe security note the rule carried at review, if any. */
  securityFinding?: "low" | "medium" | "high" | "critical";
  sandbox?: string;
}

const FINDING_SEVERITY: Record<NonNullable<DecisionEventInput["securityFinding"]>, Severity> = {
  low: "MED",
  medium: "MED",
  high: "HIGH",
  critical: "CRIT",
};

/** CONFIG 5019: a developer's (or auto-approval's) decision on a proposed rule. */
export function buildDecisionEvent(input: DecisionEventInput): OcsfEvent {
  const word = input.status === "approved" ? "APPROVED" : "REJECTED";
  const revision = input.revision ? ` revision:${input.revision}` : "";
  const reason = input.reason ? ` [reason:${oneLine(input.reason)}]` : "";
  // Approving a rule a reviewer was warned about is worth a look later; a rejection is not.
  const severity: Severity =
    input.status === "approved" && input.securityFinding ? FINDING_SEVERITY[input.securityFinding] : "INFO";
  const shorthand = `CONFIG:${word} [${severity}] ${word} rule ${oneLine(input.ruleName)} [auto:${input.auto} by:${oneLine(input.by)} chunk:${input.chunkId}${revision}]${reason}`;
  return {
    class_uid: 5019,
    class_name: "Device Config State Change",
    category_uid: 5,
    activity_id: 1,
    activity_name: "Log",
    type_uid: 5019 * 100 + 1,
    severity_id: SEVERITY_ID[severity],
    severity: SEVERITY_NAME[severity],
    time: input.time,
    message: `${word} rule ${input.ruleName}`,
    ...(input.reason ? { status_detail: oneLine(input.reason) } : {}),
    device: sandboxDevice(input.sandbox),
    metadata: metadata("supervisor"),
    unmapped: {
      airlock: {
        shorthand,
        config: { name: input.ruleName, ...(input.revision ? { version: input.revision } : {}) },
        chunk: input.chunkId,
        decided_by: input.by,
        auto: input.auto,
        ...(input.sandbox ? { sandbox: input.sandbox } : {}),
      },
    },
  };
}

export interface ProcessEventInput {
  time: number;
  activity: "launch" | "terminate";
  actor: ActorInfo;
  exitCode?: number;
  sandbox?: string;
}

/** PROC 1007 (Process Activity): the sandbox's command started or ended. No argv (it may hold secrets). */
export function buildProcessEvent(input: ProcessEventInput): OcsfEvent {
  const launch = input.activity === "launch";
  const activityId = launch ? 1 : 2;
  const name = launch ? "LAUNCH" : "TERMINATE";
  const exit = input.exitCode === undefined ? "" : ` [exit:${input.exitCode}]`;
  const pid = input.actor.pid === undefined ? "" : ` pid:${input.actor.pid}`;
  const shorthand = `PROC:${name} [INFO] ${name} ${oneLine(input.actor.binary)}${pid}${exit}`;
  return {
    class_uid: 1007,
    class_name: "Process Activity",
    category_uid: 1,
    activity_id: activityId,
    activity_name: launch ? "Launch" : "Terminate",
    type_uid: 1007 * 100 + activityId,
    severity_id: 1,
    severity: "Informational",
    time: input.time,
    message: `${name} ${input.actor.binary}`,
    // The supervisor starts the sandbox's command and sees it end.
    actor: { app_name: "Airlock supervisor" },
    process: processOf(input.actor),
    device: sandboxDevice(input.sandbox),
    ...(input.exitCode !== undefined ? { exit_code: input.exitCode } : {}),
    metadata: metadata("sandbox"),
    unmapped: { airlock: { shorthand, ...(input.sandbox ? { sandbox: input.sandbox } : {}) } },
  };
}

export interface HostRunFileEventInput {
  time: number;
  path: string;
  directory?: boolean;
  /** The host tool that would run or obey it (git, direnv, Claude Code...). */
  tool: string;
  change: "created" | "changed" | "removed";
  /** Where it was moved (for an entry of an agent's state file not applied: where the sandbox's
   * copy was kept); absent when it was kept (or could not be moved: `error`). */
  disarmedTo?: string;
  /** The entry of an agent's state file (`env`, `projects./w.allowedTools`). */
  entry?: string;
  error?: string;
  sandbox?: string;
}

function fileOf(path: string, directory: boolean): NonNullable<OcsfEvent["file"]> {
  return directory
    ? { path, name: baseName(path), type_id: 2, type: "Folder" }
    : { path, name: baseName(path), type_id: 1, type: "Regular File" };
}

/**
 * FILE 1001 (File System Activity): at the end of a run, a file the sandbox created or changed
 * that a host tool runs or obeys on its own, moved aside by the supervisor (Rename, with the new
 * name as the result; an entry of an agent's state file not applied, with where the sandbox's
 * copy was kept), or kept (Create / Update / Delete).
 */
export function buildHostRunFileEvent(input: HostRunFileEventInput): OcsfEvent {
  const disarmed = input.disarmedTo !== undefined;
  const word = disarmed ? "DISARMED" : input.error ? "FAILED" : "KEPT";
  const activity = disarmed
    ? { id: 5, name: "Rename" }
    : input.change === "created"
      ? { id: 1, name: "Create" }
      : input.change === "removed"
        ? { id: 4, name: "Delete" }
        : { id: 3, name: "Update" };
  const path = oneLine(input.path);
  const where = disarmed
    ? ` -> ${oneLine(input.disarmedTo as string)}`
    : input.error
      ? ` [error:${oneLine(input.error)}]`
      : "";
  const tool = oneLine(input.tool);
  const entry = input.entry ? ` [entry:${oneLine(input.entry)}]` : "";
  const shorthand = `FILE:${word} [HIGH] ${word} ${input.change} ${path}${entry} [tool:${tool}]${where}`;
  return {
    class_uid: 1001,
    class_name: "File System Activity",
    category_uid: 1,
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: 1001 * 100 + activity.id,
    severity_id: SEVERITY_ID.HIGH,
    severity: SEVERITY_NAME.HIGH,
    time: input.time,
    message: `${word} ${input.change} ${path} (${tool})`,
    ...(input.error ? { status_detail: oneLine(input.error) } : {}),
    actor: { app_name: "Airlock supervisor" },
    device: sandboxDevice(input.sandbox),
    file: fileOf(input.path, input.directory === true),
    ...(disarmed ? { file_result: fileOf(input.disarmedTo as string, input.directory === true) } : {}),
    metadata: metadata("sandbox"),
    unmapped: {
      airlock: { shorthand, host_tool: tool, ...(input.sandbox ? { sandbox: input.sandbox } : {}) },
    },
  };
}

/** `<RFC3339 ms> OCSF HTTP:PUT [MED] DENIED PUT https://host:443/path [policy:x engine:l7] [reason:...]` */
export function shorthandLine(event: OcsfEvent): string {
  return `${rfc3339(event.time)} OCSF ${event.unmapped.airlock.shorthand}`;
}
