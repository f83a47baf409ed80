import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadGateText } from "../../src/gate/load.ts";
import { formatProblem } from "../../src/policy/load.ts";
import { analyzer } from "./helpers.ts";

const errorsOf = (yaml: string) => {
  const r = loadGateText(yaml, "g.yaml", analyzer);
  return r.ok ? [] : r.errors.map(formatProblem);
};

describe("gate policy loading", () => {
  it("loads the example policy, whose examples all hold", () => {
    const r = loadGateText(readFileSync("examples/policies/gate.yaml", "utf8"), "gate.yaml", analyzer);
    assert.ok(r.ok, r.ok ? "" : r.errors.map(formatProblem).join("\n"));
  });

  it("locates schema errors as file:line:col: key.path: message", () => {
    const errors = errorsOf(`gate:
  hard_stops:
    - decision: maybe
      reason: x
      shell: { command: rm }
  allow:
    - shell: { command: ls, colour: red }
`);
    assert.ok(
      errors.some((e) => /^g\.yaml:3:\d+: gate\.hard_stops\[0\]\.decision: must be deny or ask/.test(e)),
      errors.join("\n"),
    );
    assert.ok(
      errors.some((e) => /^g\.yaml:7:\d+: gate\.allow\[0\]\.shell\.colour: unknown key "colour"/.test(e)),
      errors.join("\n"),
    );
  });

  it("rejects a rule with no matcher or two", () => {
    const errors = errorsOf(`gate:
  allow:
    - id: none
    - id: two
      shell: { command: ls }
      tool: { name: Read }
`);
    assert.equal(errors.length, 2, errors.join("\n"));
    assert.match(errors[0] as string, /g\.yaml:3:\d+: gate\.allow\[0\]: a rule needs one of/);
    assert.match(
      errors[1] as string,
      /g\.yaml:4:\d+: gate\.allow\[1\]: a rule matches one kind of call; it has shell and tool/,
    );
  });

  it("reuses the policy host and path validation for fetch rules", () => {
    const errors = errorsOf(`gate:
  allow:
    - fetch: { host: "*.com", path: "docs/**" }
`);
    assert.ok(
      errors.some((e) => /fetch\.host: .*too broad/.test(e)),
      errors.join("\n"),
    );
    assert.ok(
      errors.some((e) => /fetch\.path: .*must be absolute/.test(e)),
      errors.join("\n"),
    );
  });

  it("fails the load, at the example, when a rule does not do what its examples say", () => {
    const errors = errorsOf(`gate:
  hard_stops:
    - id: rm-root
      decision: deny
      reason: no
      shell: { command: rm, flags: [recursive, force] }
      match: ["rm -fr /", "rm --force --recursive x"]
      not_match: ["rm -r x", "rm -rf y"]
`);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(
      errors[0] as string,
      /^g\.yaml:8:30: gate\.hard_stops\[0\]\.not_match\[1\]: rule "rm-root" matches this example \("rm -rf y"\)/,
    );
  });

  it("validates a full policy file's other sections too", () => {
    const errors = errorsOf(`version: 1
network_policies:
  x: { endpoints: [{ host: a.example.com }] }
gate: {}
`);
    assert.ok(
      errors.some((e) => /port/.test(e)),
      errors.join("\n"),
    );
  });

  it("rejects unknown capability tags", () => {
    const errors = errorsOf(`gate:
  allow:
    - capabilities: [launch_missiles]
      tool: { name: Read }
`);
    assert.ok(
      errors.some((e) => /capabilities\[0\]: must be one of/.test(e)),
      errors.join("\n"),
    );
  });
});
