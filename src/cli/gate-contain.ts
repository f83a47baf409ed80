// `airlock gate contain`: placeholder until the contained run lands.
import type { Command } from "commander";
import { CliError } from "./common.ts";

export function registerContainCommand(gate: Command): void {
  gate
    .command("contain")
    .description("run a command in a sandbox with the workdir on an overlay; commit or discard its changes")
    .allowUnknownOption()
    .action(() => {
      throw new CliError("contain: not built yet");
    });
}
