// The per-sandbox CA (docs/design.md §4.2): ECDSA P-256 via @peculiar/x509 on WebCrypto.
// Created at sandbox start, stored as ca.crt / ca.key (0600) in the sandbox's ca/ folder;
// leaf certificates for inspected hosts are minted on first use and cached as TLS contexts.
import { webcrypto } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext, type SecureContext } from "node:tls";
import type * as X509 from "@peculiar/x509";
import { CA_CERT_FILE, CA_KEY_FILE } from "./ca-files.ts";

export { CA_CERT_FILE, CA_KEY_FILE };

const crypto = webcrypto as unknown as Crypto;

let library: Promise<typeof X509> | undefined;
/**
 * @peculiar/x509 takes tens of milliseconds to load, so it is loaded when a certificate is first
 * made or read: at a sandbox start, while bubblewrap comes up.
 */
function x509(): Promise<typeof X509> {
  library ??= (async () => {
    await import("reflect-metadata"); // @peculiar/x509 (through tsyringe) needs the Reflect metadata API
    // From source Node loads the CommonJS build (exports under default); the bundle, the ES one.
    const loaded = (await import("@peculiar/x509")) as typeof X509 & { default?: typeof X509 };
    const lib = loaded.default ?? loaded;
    lib.cryptoProvider.set(crypto);
    return lib;
  })();
  return library;
}

const ALG: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGN: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const HOUR = 3600_000;
const DAY = 24 * HOUR;

export interface SandboxCA {
  certPem: string;
  keyPem: string;
  cert: X509.X509Certificate;
  key: CryptoKey;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f; // positive
  return Buffer.from(bytes).toString("hex");
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, "$&\n")}-----END ${label}-----\n`;
}

function pemBody(text: string, label: string): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(text);
  if (!m) throw new Error(`no ${label} block`);
  return Buffer.from((m[1] as string).replace(/\s+/g, ""), "base64");
}

/** A fresh CA: `Airlock sandbox CA <name>`, valid from an hour ago for `days` (default 365). */
export async function createSandboxCA(name = "sandbox", days = 365, now = Date.now()): Promise<SandboxCA> {
  const lib = await x509();
  const keys = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await lib.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=Airlock sandbox CA ${name.replace(/[,=+<>#;"\\]/g, "_")}, O=Airlock`,
    notBefore: new Date(now - HOUR),
    notAfter: new Date(now + days * DAY),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new lib.BasicConstraintsExtension(true, 0, true),
      new lib.KeyUsagesExtension(lib.KeyUsageFlags.keyCertSign | lib.KeyUsageFlags.cRLSign, true),
      await lib.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { certPem: cert.toString("pem"), keyPem, cert, key: keys.privateKey };
}

/** Parses a CA from its PEM texts (the key in PKCS#8). */
export async function parseSandboxCA(certPem: string, keyPem: string): Promise<SandboxCA> {
  const cert = new (await x509()).X509Certificate(certPem);
  const key = await crypto.subtle.importKey(
    "pkcs8",
    new Uint8Array(pemBody(keyPem, "PRIVATE KEY")),
    ALG,
    true,
    ["sign"],
  );
  return { certPem: cert.toString("pem"), keyPem, cert, key };
}

export function saveSandboxCA(ca: SandboxCA, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, CA_CERT_FILE), ca.certPem, { mode: 0o644 });
  writeFileSync(join(dir, CA_KEY_FILE), ca.keyPem, { mode: 0o600 });
}

export async function loadSandboxCA(dir: string): Promise<SandboxCA> {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  try {
    return await parseSandboxCA(readFileSync(certPath, "utf8"), readFileSync(keyPath, "utf8"));
  } catch (err) {
    throw new Error(`cannot load sandbox CA from ${dir}: ${(err as Error).message}`);
  }
}

/** Loads the CA in `dir`, or creates and saves one when there is none yet. */
export async function loadOrCreateSandboxCA(dir: string, name?: string): Promise<SandboxCA> {
  try {
    readFileSync(join(dir, CA_CERT_FILE));
  } catch {
    const ca = await createSandboxCA(name);
    saveSandboxCA(ca, dir);
    return ca;
  }
  return loadSandboxCA(dir);
}

/**
 * Mints and caches leaf certificates (one ECDSA key shared by every leaf of this CA; a cert per
 * host) as ready TLS contexts. Concurrent first requests for a host share one minting.
 */
export class LeafCache {
  private readonly contexts = new Map<string, Promise<SecureContext>>();
  private leafKeys: Promise<CryptoKeyPair> | undefined;
  private leafKeyPem = "";

  constructor(
    private readonly ca: SandboxCA,
    private readonly maxEntries = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  context(host: string): Promise<SecureContext> {
    const key = host.toLowerCase();
    const hit = this.contexts.get(key);
    if (hit) {
      // refresh recency
      this.contexts.delete(key);
      this.contexts.set(key, hit);
      return hit;
    }
    const minting = this.mint(key);
    minting.catch(() => this.contexts.delete(key));
    this.contexts.set(key, minting);
    if (this.contexts.size > this.maxEntries) {
      const oldest = this.contexts.keys().next().value;
      if (oldest !== undefined) this.contexts.delete(oldest);
    }
    return minting;
  }

  private async keys(): Promise<CryptoKeyPair> {
    this.leafKeys ??= (async () => {
      const pair = (await crypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
      this.leafKeyPem = pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey));
      return pair;
    })();
    return this.leafKeys;
  }

  /** A leaf for `host` as PEM (chain: leaf then CA) and key: for test and demo upstream servers. */
  async mintPem(host: string, alsoFor: readonly string[] = []): Promise<{ cert: string; key: string }> {
    const cert = await this.mintCert(host.toLowerCase(), alsoFor);
    return { cert: `${cert.toString("pem")}\n${this.ca.certPem}`, key: this.leafKeyPem };
  }

  private async mint(host: string): Promise<SecureContext> {
    const { cert, key } = await this.mintPem(host);
    return createSecureContext({ cert, key, minVersion: "TLSv1.2" });
  }

  private async mintCert(host: string, alsoFor: readonly string[] = []): Promise<X509.X509Certificate> {
    const lib = await x509();
    const keys = await this.keys();
    const now = this.now();
    const san = [host, ...alsoFor].map((name) =>
      isIP(name) ? { type: "ip" as const, value: name } : { type: "dns" as const, value: name.toLowerCase() },
    );
    return lib.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${host.replace(/[^A-Za-z0-9.:_-]/g, "_").slice(0, 64)}`,
      issuer: this.ca.cert.subject,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(Math.min(now + 30 * DAY, this.ca.cert.notAfter.getTime())),
      signingAlgorithm: SIGN,
      publicKey: keys.publicKey,
      signingKey: this.ca.key,
      extensions: [
        new lib.BasicConstraintsExtension(false, undefined, true),
        new lib.KeyUsagesExtension(lib.KeyUsageFlags.digitalSignature, true),
        new lib.ExtendedKeyUsageExtension([lib.ExtendedKeyUsage.serverAuth]),
        new lib.SubjectAlternativeNameExtension(san),
        await lib.AuthorityKeyIdentifierExtension.create(this.ca.cert),
      ],
    });
  }
}
