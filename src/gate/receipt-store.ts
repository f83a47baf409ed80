// Appends receipts to a JSONL file under a lock, with the signing key kept under $AIRLOCK_HOME.
// Beside the log, `<file>.head` holds the signed count and last hash, rewritten atomically with
// every receipt: lines removed from the end, or an emptied log, no longer verify.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  appendFileSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname } from "node:path";
import { writeAtomically } from "../protocol/atomic-write.ts";
import { airlockHome, homePaths } from "../protocol/home.ts";
import {
  GENESIS,
  type Receipt,
  type ReceiptBody,
  type ReceiptHead,
  sealReceipt,
  signHead,
  verifyReceipts,
} from "./receipts.ts";

export function defaultReceiptsFile(): string {
  return homePaths(airlockHome()).receipts;
}

const keyFile = () => homePaths(airlockHome()).receiptKey;
export const publicKeyFile = () => homePaths(airlockHome()).receiptPublicKey;

/** The Ed25519 signing key, created on first use (0600). */
export function loadSigningKey(): KeyObject {
  const file = keyFile();
  if (existsSync(file)) return createPrivateKey(readFileSync(file));
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  try {
    writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600, flag: "wx" });
    writeFileSync(publicKeyFile(), publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return createPrivateKey(readFileSync(file));
}

export function loadVerifyKey(file?: string): KeyObject {
  if (file) return createPublicKey(readFileSync(file));
  if (existsSync(publicKeyFile())) return createPublicKey(readFileSync(publicKeyFile()));
  return createPublicKey(loadSigningKey());
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** An exclusive lock file; a lock older than 10 s is taken to be left by a dead process. */
export function withLock<T>(target: string, fn: () => T): T {
  const lock = `${target}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10000) rmSync(lock, { force: true });
      } catch {}
      if (attempt > 2000) throw new Error(`${target} stays locked (${lock})`);
      sleep(5);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The last line of a file, reading only its tail. */
function lastLine(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    let chunk = 4096;
    while (true) {
      const start = Math.max(0, size - chunk);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const text = buf.toString("utf8").replace(/\n+$/, "");
      const nl = text.lastIndexOf("\n");
      if (nl >= 0 || start === 0) return text.slice(nl + 1) || undefined;
      chunk *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

const headFile = (file: string) => `${file}.head`;

/** The signed head beside a log: undefined when there is none, an error when it is unreadable. */
export function readHead(file: string): ReceiptHead | undefined {
  let text: string;
  try {
    text = readFileSync(headFile(file), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return JSON.parse(text) as ReceiptHead;
}

/**
 * Appends one receipt and moves the head. Refuses when the log's last line is not the head's
 * (lines removed, the log emptied or swapped): chaining onto it would bury the evidence.
 */
export function appendReceipt(
  file: string,
  body: Omit<ReceiptBody, "seq" | "prev" | "v">,
  key: KeyObject = loadSigningKey(),
): Receipt {
  mkdirSync(dirname(file), { recursive: true });
  return withLock(file, () => {
    const last = lastLine(file);
    const previous = last ? (JSON.parse(last) as Receipt) : undefined;
    const head = readHead(file);
    if (head ? head.hash !== previous?.hash : previous !== undefined) {
      throw new Error(
        head
          ? `${file} does not end at its signed head (seq ${head.seq}): receipts were removed or replaced`
          : `${file} has receipts but no signed head (${headFile(file)}): it cannot be extended safely`,
      );
    }
    const receipt = sealReceipt(
      { v: 1, ...body, seq: previous ? previous.seq + 1 : 0, prev: previous ? previous.hash : GENESIS },
      key,
    );
    appendFileSync(file, `${JSON.stringify(receipt)}\n`, { mode: 0o600 });
    writeAtomically(
      headFile(file),
      `${JSON.stringify(signHead({ count: receipt.seq + 1, seq: receipt.seq, hash: receipt.hash }, key))}\n`,
    );
    return receipt;
  });
}

export interface Adopted {
  count: number;
  head: { seq: number; hash: string };
}

/**
 * Signs a head for a log written before heads existed, so it can be extended again. Only a log
 * whose every line verifies (hash, signature, chain, order) under this key is adopted, and only
 * up to an earlier recorded head if one is given: a broken chain stays refused.
 */
export function adoptReceipts(
  file: string,
  expectHead?: { seq: number; hash: string },
  key: KeyObject = loadSigningKey(),
): Adopted {
  return withLock(file, () => {
    if (readHead(file) !== undefined)
      throw new Error(`${file} already has a signed head (${headFile(file)})`);
    const text = readFileSync(file, "utf8");
    const result = verifyReceipts(text.split("\n"), createPublicKey(key), expectHead);
    if (!result.ok) throw new Error(`${file} does not verify:\n${result.problems.join("\n")}`);
    if (!result.head) throw new Error(`${file} holds no receipts: there is nothing to adopt`);
    const head = result.head;
    writeAtomically(headFile(file), `${JSON.stringify(signHead({ count: result.count, ...head }, key))}\n`);
    return { count: result.count, head };
  });
}
