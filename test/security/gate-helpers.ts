// Real bash as the agent's shell runs a line: in the project, with a scratch home and a plain
// PATH. Returns what it printed (a failing line too); the limit is generous for a loaded machine.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export function agentBash(project: string, home: string): (line: string) => Promise<string> {
  return async (line) => {
    try {
      const { stdout } = await run("bash", ["-c", line], {
        cwd: project,
        env: { PATH: "/usr/bin:/bin", HOME: home, LANG: "C" },
        timeout: 60000,
      });
      return stdout;
    } catch (error) {
      return String((error as { stdout?: string }).stdout ?? "");
    }
  };
}
