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

export interface VerifyResult {
  ok: boolean;
  count: number;
  problems: string[];
  head?: { seq: number; hash: string };
}

/** Checks every line: its own hash, its signature, its link to the line before, its sequence. */
export function verifyReceipts(lines: string[], publicKey: KeyObject): VerifyResult {
  const problems: string[] = [];
  let prev = GENESIS;
  let expectedSeq: number | undefined;
  let count = 0;
  let head: { seq: number; hash: string } | undefined;
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
    expectedSeq = body.seq + 1;
    prev = hash;
    head = { seq: body.seq, hash };
  }
  return { ok: problems.length === 0, count, problems, ...(head ? { head } : {}) };
}
