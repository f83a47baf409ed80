import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { ClassifierQuestion } from "../../src/gate/cascade.ts";
import { decide } from "../../src/gate/cascade.ts";
import { createClassifier, memoryBreaker } from "../../src/gate/classifier.ts";
import { ClassifierSchema } from "../../src/gate/schema.ts";
import { analyzer, CTX, gateFrom } from "./helpers.ts";

/** A small OpenAI-compatible server: its behaviour is chosen per request by the model name. */
let server: Server;
let base: string;
const seen: Array<{ model: string; messages: Array<{ role: string; content: string }>; auth?: string }> = [];

function completion(content: string): string {
  return JSON.stringify({
    id: "x",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content } }],
  });
}

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.url !== "/v1/chat/completions" || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const parsed = JSON.parse(body) as {
        model: string;
        messages: Array<{ role: string; content: string }>;
      };
      seen.push({ ...parsed, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
      const reply = (content: string) =>
        res.writeHead(200, { "content-type": "application/json" }).end(completion(content));
      switch (parsed.model) {
        case "allow":
          return reply('{"decision":"allow","reason":"tests are safe"}');
        case "fenced":
          return reply('```json\n{"decision":"retry","reason":"use npm test","hint":"npm test"}\n```');
        case "garbage":
          return reply("I think this is probably fine!");
        case "wrong-shape":
          return reply('{"decision":"yes","reason":""}');
        case "http-500":
          return res.writeHead(500).end("oops");
        case "not-json":
          return res.writeHead(200, { "content-type": "application/json" }).end("{{{");
        case "slow":
          // Answers after the client gave up; the timer is unref'd so it never holds the test open.
          setTimeout(() => reply('{"decision":"allow","reason":"late"}'), 3000).unref();
          return;
      }
      res.writeHead(400).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

// Answers that should arrive get a generous limit (a loaded CI machine is slow); the "slow"
// server is cut off after 300 ms so the test stays quick.
const config = (model: string, extra: Record<string, unknown> = {}) =>
  ClassifierSchema.parse({ endpoint: base, model, timeout_ms: model === "slow" ? 300 : 10000, ...extra });

const question: ClassifierQuestion = {
  call: { kind: "shell", command: "python3 x.py" },
  summary: "python3 x.py",
  instructions: "Never touch production.",
  why: "no allow rule matches",
};

describe("classifier client", () => {
  it("parses an answer and sends the instruction text and the API key from the named variable", async () => {
    const classify = createClassifier(config("allow", { api_key_env: "TEST_KEY" }), {
      env: { TEST_KEY: "sk-test" },
    });
    const answer = await classify(question);
    assert.deepEqual(answer, { ok: true, decision: "allow", reason: "tests are safe" });
    const last = seen.at(-1);
    assert.equal(last?.auth, "Bearer sk-test");
    assert.match(last?.messages[0]?.content ?? "", /Never touch production\./);
    assert.match(last?.messages[1]?.content ?? "", /python3 x\.py/);
  });

  it("accepts a fenced JSON answer with a hint", async () => {
    const answer = await createClassifier(config("fenced"))(question);
    assert.deepEqual(answer, { ok: true, decision: "retry", reason: "use npm test", hint: "npm test" });
  });

  for (const model of ["garbage", "wrong-shape", "http-500", "not-json", "slow"]) {
    it(`fails closed when the answer is ${model}`, async () => {
      const answer = await createClassifier(config(model))(question);
      assert.equal(answer.ok, false);
    });
  }

  it("fails closed when the server is down", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const answer = await createClassifier(
      ClassifierSchema.parse({ endpoint: `http://127.0.0.1:${port}/v1`, model: "allow" }),
    )(question);
    assert.equal(answer.ok, false);
  });

  it("opens the circuit after repeated failures and stops calling", async () => {
    let now = 1000;
    const breaker = memoryBreaker();
    const classify = createClassifier(config("garbage", { failure_threshold: 2, cooldown_ms: 5000 }), {
      breaker,
      now: () => now,
    });
    const before = seen.length;
    await classify(question);
    await classify(question);
    assert.equal(seen.length, before + 2);
    const open = await classify(question);
    assert.equal(open.ok, false);
    assert.match(open.ok ? "" : open.error, /circuit open/);
    assert.equal(seen.length, before + 2, "no request while the circuit is open");
    now += 6000;
    await classify(question);
    assert.equal(seen.length, before + 3, "tried again after the cool-down");
  });

  it("drives the cascade end to end: slow, garbage and down all become ask", async () => {
    for (const model of ["slow", "garbage"]) {
      const gate = gateFrom(
        `gate:\n  classifier: { endpoint: "${base}", model: ${model}, timeout_ms: 300 }\n`,
      );
      const d = await decide(gate, question.call, CTX, {
        analyze: analyzer,
        classify: createClassifier(gate.classifier!),
      });
      assert.equal(d.decision, "ask", `${model}: ${d.reason}`);
      assert.equal(d.tier, 3);
    }
    const gate = gateFrom(`gate:\n  classifier: { endpoint: "${base}", model: allow }\n`);
    const d = await decide(gate, question.call, CTX, {
      analyze: analyzer,
      classify: createClassifier(gate.classifier!),
    });
    assert.deepEqual([d.decision, d.tier], ["allow", 2]);
  });
});
