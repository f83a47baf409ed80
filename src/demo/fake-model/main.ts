// The fake model as a process: `npx tsx src/demo/fake-model/main.ts SCENARIO [--host NAME]...`
// prints one JSON line {httpUrl, httpsUrl, caFile} and serves until stdin closes or SIGTERM.
import { loadScenario } from "./scenario.ts";
import { startFakeModel } from "./server.ts";

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: main.ts SCENARIO.(json|yaml) [--host NAME]...\n");
  process.exit(2);
}
const hosts = rest.flatMap((a, i) => (a === "--host" && rest[i + 1] ? [rest[i + 1] as string] : []));
const server = await startFakeModel({ scenario: loadScenario(file), hosts });
process.stdout.write(
  `${JSON.stringify({ httpUrl: server.httpUrl, httpsUrl: server.httpsUrl, caFile: server.caFile })}\n`,
);
const stop = () => server.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
