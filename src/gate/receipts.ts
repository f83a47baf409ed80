// Decision receipts: JSONL, each line hash-chained to the previous and signed with Ed25519.
// Building and verifying are pure over keys and lines; receipt-store.ts does the file I/O.
import { createHash, type KeyObject, sign, verify } from "node:crypto";
import { stableJson } from "../policy/canonical.ts";

export interface ReceiptBody {
  v: 1;
  seq: number;
  time: string;
  tool: string;
  input_digest: string;
  decision: string;
  tier: number;
  step: string;
  rule: string | null;
  reason: string;
  latency_ms: number;
  session?: string;
  /** Hash of the previous receipt ("" for the first). */
  prev: string;
}

export interface Receipt extends ReceiptBody {
  hash: string;
  sig: string;
}

export const GENESIS = "";

export function receiptHash(body: ReceiptBody): string {
  return `sha256:${createHash("sha256").update(stableJson(body)).digest("hex")}`;
}

export function sealReceipt(body: ReceiptBody, privateKey: KeyObject): Receipt {
  const hash = receiptHash(body);
  const sig = sign(null, Buffer.from(hash), privateKey).toString("base64");
  return { ...body, hash, sig };
}

/** The log's signed end: how many receipts it holds and the hash of the last one. */
export interface ReceiptHead {
  v: 1;
  count: number;
  seq: number;
  hash: string;
  sig: string;
}

const headMessage = (h: Omit<ReceiptHead, "sig" | "v">) =>
  Buffer.from(`airlock receipts head v1 count=${h.count} seq=${h.seq} hash=${h.hash}`);

export function signHead(head: Omit<ReceiptHead, "sig" | "v">, privateKey: KeyObject): ReceiptHead {
  return { v: 1, ...head, sig: sign(null, headMessage(head), privateKey).toString("base64") };
}

function headSigned(head: ReceiptHead, publicKey: KeyObject): boolean {
  try {
    return verify(null, headMessage(head), publicKey, Buffer.from(String(head.sig), "base64"));
  } catch {
    return false;
  }
}

/** Problems with a log's signed head: missing (for a non-empty log), forged, or not the log's end. */
export function checkHead(
  head: ReceiptHead | undefined,
  result: { count: number; head?: { seq: number; hash: string } },
  publicKey: KeyObject,
): string[] {
  if (!head) {
    return result.count > 0 ? ["no signed head beside the log: its end cannot be checked"] : [];
  }
  if (!headSigned(head, publicKey)) return ["the signed head has a bad signature"];
  if (head.count !== result.count || head.hash !== result.head?.hash) {
    return [
      `the signed head records ${head.count} receipt${head.count === 1 ? "" : "s"} ending at seq ${head.seq}; the log has ${result.count}${result.head ? ` ending at seq ${result.head.seq}` : ""}: receipts were removed, added or replaced`,
    ];
  }
  return [];
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  problems: string[];
  head?: { seq: number; hash: string };
}

/** Checks every line: its own hash, its signature, its link to the line before, its sequence. */
export function verifyReceipts(
  lines: string[],
  publicKey: KeyObject,
  /** A head recorded earlier (`seq:hash`): the file must still contain it (detects truncation). */
  expectHead?: { seq: number; hash: string },
): VerifyResult {
  const problems: string[] = [];
  let prev = GENESIS;
  let expectedSeq: number | undefined;
  let count = 0;
  let head: { seq: number; hash: string } | undefined;
  let sawExpected = false;
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const at = `line ${index + 1}`;
    let receipt: Receipt;
    try {
      receipt = JSON.parse(line) as Receipt;
    } catch {
      problems.push(`${at}: not JSON`);
      continue;
    }
    count++;
    const { hash, sig, ...body } = receipt;
    if (receiptHash(body) !== hash) problems.push(`${at}: content does not match its hash (edited)`);
    let signed = false;
    try {
      signed = verify(null, Buffer.from(String(hash)), publicKey, Buffer.from(String(sig), "base64"));
    } catch {
      signed = false;
    }
    if (!signed) problems.push(`${at}: bad signature`);
    if (body.prev !== prev) problems.push(`${at}: does not follow the line before (removed or reordered)`);
    if (expectedSeq !== undefined && body.seq !== expectedSeq) {
      problems.push(`${at}: sequence ${body.seq}, expected ${expectedSeq}`);
    }
    if (expectHead && body.seq === expectHead.seq && hash === expectHead.hash) sawExpected = true;
    expectedSeq = body.seq + 1;
    prev = hash;
    head = { seq: body.seq, hash };
  }
  if (expectHead && !sawExpected) {
    problems.push(`the recorded head (seq ${expectHead.seq}) is missing: lines were removed or replaced`);
  }
  return { ok: problems.length === 0, count, problems, ...(head ? { head } : {}) };
}
