// A scripted, deterministic fake of the model APIs the real agents talk to, on loopback:
// Anthropic Messages (`POST …/v1/messages`, SSE when `stream: true`) and OpenAI Responses
// (`POST …/responses`, SSE). The turn is derived from the request itself (how many model turns
// its history already holds), so retries and parallel side requests get the same answer. Every
// request is recorded raw (method, path, headers, body) for assertions such as "no secret
// reached the model". Serves plain HTTP and HTTPS (a leaf for 127.0.0.1/localhost and any
// `hosts` given, signed by a throwaway CA written to `caFile`).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSandboxCA, LeafCache } from "../../proxy/ca.ts";
import { type Scenario, type Turn, turnAt } from "./scenario.ts";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Which API the path belongs to, and the turn it was answered with (main conversation only). */
  api: "anthropic" | "openai" | "other";
  turn: number | null;
}

export interface FakeModel {
  /** `http://127.0.0.1:PORT` */
  httpUrl: string;
  /** `https://127.0.0.1:PORT` (trust `caFile`) */
  httpsUrl: string;
  caPem: string;
  caFile: string;
  requests: RecordedRequest[];
  /** Every recorded body joined: for "this text never reached the model". */
  allBodies(): string;
  /** Requests of the main conversation (those answered from the scenario), in order. */
  turns(): RecordedRequest[];
  setScenario(scenario: Scenario): void;
  close(): Promise<void>;
}

export interface FakeModelOptions {
  scenario: Scenario;
  /** Extra names for the HTTPS leaf (e.g. api.anthropic.com behind a proxy's connect override). */
  hosts?: string[];
  /** Model name echoed back. */
  model?: string;
}

const MAX_BODY = 64 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) reject(new Error("body too large"));
      else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
};

const sse = (res: ServerResponse, events: Array<[string, unknown]>) => {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
};

type Body = Record<string, unknown>;

/** Model turns already in an Anthropic history: its assistant messages. */
function anthropicTurnsDone(body: Body): number {
  const messages = Array.isArray(body["messages"]) ? (body["messages"] as Body[]) : [];
  return messages.filter((m) => m && m["role"] === "assistant").length;
}

/** Model turns already in a Responses history: tool calls and assistant messages. */
function openaiTurnsDone(body: Body): number {
  const input = Array.isArray(body["input"]) ? (body["input"] as Body[]) : [];
  return input.filter(
    (i) =>
      i &&
      (i["type"] === "function_call" ||
        i["type"] === "custom_tool_call" ||
        i["type"] === "local_shell_call" ||
        (i["type"] === "message" && i["role"] === "assistant")),
  ).length;
}

function anthropicMessage(turn: Turn, n: number, model: string) {
  const content =
    "tool" in turn
      ? [{ type: "tool_use", id: `toolu_fake_${n}`, name: turn.tool, input: turn.input }]
      : [{ type: "text", text: "custom_tool" in turn ? turn.input : turn.text }];
  return {
    id: `msg_fake_${n}`,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: "tool" in turn ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 5 },
  };
}

function anthropicEvents(turn: Turn, n: number, model: string): Array<[string, unknown]> {
  const msg = anthropicMessage(turn, n, model);
  const events: Array<[string, unknown]> = [
    [
      "message_start",
      {
        type: "message_start",
        message: { ...msg, content: [], stop_reason: null, usage: { input_tokens: 10, output_tokens: 1 } },
      },
    ],
  ];
  const block = msg.content[0] as Body;
  if (block["type"] === "tool_use") {
    events.push(
      [
        "content_block_start",
        { type: "content_block_start", index: 0, content_block: { ...block, input: {} } },
      ],
      [
        "content_block_delta",
        {
          type: "content_block_delta",
          index: 0,
          delta: { type: "input_json_delta", partial_json: JSON.stringify(block["input"]) },
        },
      ],
    );
  } else {
    events.push(
      [
        "content_block_start",
        { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
      ],
      [
        "content_block_delta",
        { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: block["text"] } },
      ],
    );
  }
  events.push(
    ["content_block_stop", { type: "content_block_stop", index: 0 }],
    [
      "message_delta",
      {
        type: "message_delta",
        delta: { stop_reason: msg.stop_reason, stop_sequence: null },
        usage: { output_tokens: 5 },
      },
    ],
    ["message_stop", { type: "message_stop" }],
  );
  return events;
}

function openaiItem(turn: Turn, n: number): Body {
  if ("tool" in turn)
    return {
      type: "function_call",
      id: `fc_fake_${n}`,
      call_id: `call_fake_${n}`,
      name: turn.tool,
      arguments: JSON.stringify(turn.input),
      status: "completed",
    };
  if ("custom_tool" in turn)
    return {
      type: "custom_tool_call",
      id: `ctc_fake_${n}`,
      call_id: `call_fake_${n}`,
      name: turn.custom_tool,
      input: turn.input,
      status: "completed",
    };
  return {
    type: "message",
    id: `msg_fake_${n}`,
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text: turn.text, annotations: [] }],
  };
}

function openaiEvents(turn: Turn, n: number, model: string): Array<[string, unknown]> {
  const id = `resp_fake_${n}`;
  const item = openaiItem(turn, n);
  const response = { id, object: "response", model, status: "in_progress", output: [] as Body[] };
  const usage = {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 15,
  };
  return [
    ["response.created", { type: "response.created", response }],
    ["response.output_item.added", { type: "response.output_item.added", output_index: 0, item }],
    ["response.output_item.done", { type: "response.output_item.done", output_index: 0, item }],
    [
      "response.completed",
      { type: "response.completed", response: { ...response, status: "completed", output: [item], usage } },
    ],
  ];
}

export async function startFakeModel(options: FakeModelOptions): Promise<FakeModel> {
  let scenario = options.scenario;
  const model = options.model ?? "fake-model";
  const requests: RecordedRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req).catch(() => "");
    const path = req.url ?? "/";
    const route = path.split("?")[0] ?? "/";
    const record: RecordedRequest = {
      method: req.method ?? "",
      path,
      headers: req.headers,
      body,
      api: "other",
      turn: null,
    };
    requests.push(record);
    let parsed: Body = {};
    try {
      parsed = body ? (JSON.parse(body) as Body) : {};
    } catch {
      return json(res, 400, { error: { type: "invalid_request_error", message: "body is not JSON" } });
    }
    if (req.method === "POST" && route.endsWith("/v1/messages/count_tokens")) {
      record.api = "anthropic";
      return json(res, 200, { input_tokens: 10 });
    }
    if (req.method === "POST" && route.endsWith("/v1/messages")) {
      record.api = "anthropic";
      // Side requests (titles, summaries) carry no tools: they get text, the scenario is untouched.
      const main = Array.isArray(parsed["tools"]) && (parsed["tools"] as unknown[]).length > 0;
      const done = anthropicTurnsDone(parsed);
      const turn: Turn = main ? turnAt(scenario, done) : { text: "ok" };
      if (main) record.turn = done;
      if (parsed["stream"] === true) return sse(res, anthropicEvents(turn, done, model));
      return json(res, 200, anthropicMessage(turn, done, model));
    }
    if (req.method === "POST" && route.endsWith("/responses")) {
      record.api = "openai";
      const done = openaiTurnsDone(parsed);
      record.turn = done;
      return sse(res, openaiEvents(turnAt(scenario, done), done, model));
    }
    if (req.method === "GET" && route.endsWith("/models")) {
      record.api = "openai";
      return json(res, 200, { object: "list", data: [], models: [] });
    }
    json(res, 404, { error: { type: "not_found_error", message: `fake model: no route ${route}` } });
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error) => {
      if (!res.headersSent) json(res, 500, { error: { message: String(error) } });
      else res.destroy();
    });
  };

  const ca = await createSandboxCA("fake-model");
  const leaf = await new LeafCache(ca).mintPem("127.0.0.1", ["localhost", ...(options.hosts ?? [])]);
  const dir = mkdtempSync(join(tmpdir(), "fake-model-"));
  const caFile = join(dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);

  const http = createHttpServer(onRequest);
  const https = createHttpsServer({ cert: leaf.cert, key: leaf.key }, onRequest);
  const listen = (s: typeof http | typeof https) =>
    new Promise<number>((resolve, reject) => {
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port));
    });
  const [httpPort, httpsPort] = await Promise.all([listen(http), listen(https)]);
  const close = (s: typeof http | typeof https) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });

  return {
    httpUrl: `http://127.0.0.1:${httpPort}`,
    httpsUrl: `https://127.0.0.1:${httpsPort}`,
    caPem: ca.certPem,
    caFile,
    requests,
    allBodies: () => requests.map((r) => r.body).join("\n"),
    turns: () => requests.filter((r) => r.turn !== null),
    setScenario(next) {
      scenario = next;
    },
    async close() {
      await Promise.all([close(http), close(https)]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The tool results the agent sent back, in order, from its latest request (Anthropic or Responses). */
export function toolResults(request: RecordedRequest | undefined): string[] {
  if (!request) return [];
  const body = JSON.parse(request.body) as Body;
  const text = (c: unknown): string =>
    typeof c === "string"
      ? c
      : Array.isArray(c)
        ? c.map((p) => text((p as Body)["text"] ?? p)).join("")
        : JSON.stringify(c);
  if (request.api === "anthropic")
    return ((body["messages"] as Body[]) ?? []).flatMap((m) =>
      Array.isArray(m["content"])
        ? (m["content"] as Body[]).filter((b) => b["type"] === "tool_result").map((b) => text(b["content"]))
        : [],
    );
  return ((body["input"] as Body[]) ?? [])
    .filter((i) => i["type"] === "function_call_output" || i["type"] === "custom_tool_call_output")
    .map((i) => text(i["output"]));
}
