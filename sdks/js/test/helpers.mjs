// Shared test helpers: the real server from the environment, and small HTTP proxies in front of
// it that fail on purpose (503 first, lost responses, Retry-After, silence), so the SDK's retry
// paths are exercised over real sockets against a real server.

import { randomUUID } from "node:crypto";
import { createServer } from "node:http";

/** The server under test, from PHOSPHO_BASE_URL and PHOSPHO_API_KEY. */
export function target() {
  const baseUrl = process.env.PHOSPHO_BASE_URL;
  const apiKey = process.env.PHOSPHO_API_KEY;
  if (!baseUrl || !apiKey) {
    throw new Error("set PHOSPHO_BASE_URL and PHOSPHO_API_KEY to a running phospho server");
  }
  return { baseUrl: baseUrl.replace(/\/+$/, ""), apiKey };
}

/** A label shared by this run's tests, so session ids can be checked in the database afterwards. */
export const RUN = process.env.PHOSPHO_TEST_RUN || randomUUID().slice(0, 8);

/** A session id for one scenario of this run, e.g. `retry-503-<run>`. */
export function sessionFor(scenario) {
  return `${scenario}-${RUN}`;
}

/** Options that make retries fast enough for tests. */
export const FAST_RETRIES = { maxRetries: 3, retryBaseDelayMs: 10, retryMaxDelayMs: 50 };

/** A URL where nothing listens (a port that was just free). */
export async function deadUrl() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// Headers that describe one connection or one encoding, not the answer: never passed on.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"]);

/** Send a request received by a proxy on to the real server; returns its answer. */
async function forward(upstream, req, body) {
  const headers = {};
  for (const name of ["authorization", "content-type", "accept", "user-agent"]) {
    if (req.headers[name]) headers[name] = req.headers[name];
  }
  const response = await fetch(upstream + req.url, {
    method: req.method,
    headers,
    body: req.method === "GET" ? undefined : body,
  });
  const passed = {};
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) passed[name] = value;
  });
  return { status: response.status, headers: passed, body: await response.text() };
}

/**
 * Start a proxy in front of the real server. `decide({ attempt, req, body })` returns what to
 * do with the request number `attempt` (0-based):
 *   "forward" (default)  pass it on and answer with the server's answer;
 *   "forward-then-drop"  pass it on, then cut the connection without answering (lost response);
 *   "hang"               never answer;
 *   { status, headers?, body? }  answer this without asking the server.
 * `requests` records each request: { method, url, headers, body, json, at, upstreamStatus }.
 */
export async function startProxy(decide = () => "forward") {
  const { baseUrl } = target();
  const requests = [];
  const hanging = new Set();
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    const record = { method: req.method, url: req.url, headers: req.headers, body, json, at: performance.now() };
    requests.push(record);
    const action = decide({ attempt: requests.length - 1, req, body }) ?? "forward";
    if (action === "hang") {
      hanging.add(res);
      return;
    }
    if (typeof action === "object") {
      const payload = typeof action.body === "string" ? action.body : JSON.stringify(action.body ?? {});
      res.writeHead(action.status, { "content-type": "application/json", ...action.headers });
      res.end(payload);
      return;
    }
    const answer = await forward(baseUrl, req, body);
    record.upstreamStatus = answer.status;
    if (action === "forward-then-drop") {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      for (const res of hanging) res.socket?.destroy();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Whether the server already holds an event id for this project, checked the way a client
 * would see it: re-sending an event with a stored id is answered 200 with the original body
 * (a new id would be 201). Only call this with ids that should be stored.
 */
export async function isStored(eventId) {
  const { baseUrl, apiKey } = target();
  const response = await fetch(`${baseUrl}/api/v1/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ input: "probe", output: "probe", event_id: eventId }),
  });
  await response.text();
  return response.status === 200;
}

/** A UUID for an event id the server has never seen. */
export function newEventId() {
  return randomUUID();
}
