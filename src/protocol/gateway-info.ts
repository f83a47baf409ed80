// $AIRLOCK_HOME/gateway.json: where the local gateway listens, written by `airlock gateway run`
// and read by every client that finds the gateway from the home. What is read is checked against
// the schema, never cast: a client must not send the operator token to an address that a damaged
// or planted file names in a field of the wrong shape. zod/mini, as the policy schema: a CLI start
// that reads this file pays for no second zod API.
import { readFileSync } from "node:fs";
import * as z from "zod/mini";
import { formatZodIssues } from "../policy/zod-issues.ts";
import { homePaths } from "./home.ts";

const HttpUrlSchema = z.string().check(
  z.refine((text) => /^https?:\/\/[^/?#\s]+\/?$/.test(text), {
    error: "must be an http(s) URL naming only a host and port",
  }),
);

const GatewayInfoSchema = z.object({
  pid: z.int().check(z.positive()),
  port: z.int().check(z.minimum(1), z.maximum(65_535)),
  host: z.string().check(z.minLength(1)),
  url: HttpUrlSchema,
  /** The store, with any password redacted. */
  db: z.string(),
  started_at: z.string(),
});
export type GatewayInfo = z.infer<typeof GatewayInfoSchema>;

/** gateway.json exists but is not what `airlock gateway run` writes: the file and field are named. */
export class GatewayInfoError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(
      `${file}: ${problem} (remove the file if no gateway runs; \`airlock gateway start\` writes it anew)`,
    );
  }
}

/** The local gateway's address, or null when the home has none; a bad file throws GatewayInfoError. */
export function readGatewayInfo(home: string): GatewayInfo | null {
  const file = homePaths(home).gatewayInfo;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new GatewayInfoError(file, `cannot be read (${(error as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GatewayInfoError(file, `not JSON (${(error as Error).message})`);
  }
  const parsed = GatewayInfoSchema.safeParse(value);
  if (!parsed.success) throw new GatewayInfoError(file, formatZodIssues(parsed.error.issues, "(file)"));
  return parsed.data;
}
