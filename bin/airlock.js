#!/usr/bin/env node
// Entry point for the installed `airlock` command: loads the TypeScript CLI through tsx.
import { register } from "tsx/esm/api";

register();
const { main, exitQuietlyOnBrokenPipe } = await import("../src/cli/main.ts");
exitQuietlyOnBrokenPipe();
await main(process.argv);
