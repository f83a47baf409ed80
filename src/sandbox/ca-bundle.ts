// The CA bundle the sandbox trusts (docs/design.md §4.1): the system's CAs plus this sandbox's CA, so
// every client inside accepts the proxy's leaf certificates without trusting anything else new.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/ssl/cert.pem",
];

/** The system store's PEM text; Node's built-in Mozilla list when the system has none. */
export function systemCaPem(): string {
  for (const file of SYSTEM_BUNDLES) {
    try {
      const text = readFileSync(file, "utf8");
      if (text.includes("BEGIN CERTIFICATE")) return text;
    } catch {
      // next candidate
    }
  }
  // Node's TLS module is loaded only for this fallback: a sandbox start needs it no sooner.
  const { rootCertificates } = createRequire(import.meta.url)("node:tls") as typeof import("node:tls");
  return `${rootCertificates.join("\n")}\n`;
}

/**
 * What a client inside trusts: the system's CAs, the CAs the proxy also trusts upstream (an L4
 * endpoint is spliced, so the client verifies that upstream itself, as the proxy would), and the
 * sandbox's CA (every endpoint the proxy terminates).
 */
export function caBundle(
  systemPem: string,
  sandboxCaPem: string,
  upstreamPems: readonly string[] = [],
): string {
  const base = systemPem.endsWith("\n") ? systemPem : `${systemPem}\n`;
  const upstream = upstreamPems
    .map((pem) => `# Trusted upstream by this sandbox's proxy\n${pem.trim()}\n`)
    .join("");
  return `${base}${upstream}# Airlock sandbox CA\n${sandboxCaPem.trim()}\n`;
}
