import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { readmeWithReference } from "../../scripts/cli-reference.ts";

test("the README's CLI reference matches the command definitions (run scripts/cli-reference.ts --write)", () => {
  const readme = readFileSync("README.md", "utf8");
  assert.equal(readme, readmeWithReference(readme));
});
