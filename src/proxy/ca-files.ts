// Where a sandbox's CA is kept in its ca/ folder (ca.ts), named apart so the supervisor can
// record the path before it loads the CA code.
export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";
