// Retries over real sockets: a flaky proxy in front of the real server. A retried event keeps
// its id, so the server stores it once (the pytest side also counts the rows by session id).

import assert from "node:assert/strict";
import { after, test } from "node:test";

import { APIConnectionError, APIError, Phospho } from "phospho-sdk";

import { FAST_RETRIES, deadUrl, isStored, sessionFor, startProxy, target } from "./helpers.mjs";

const proxies = [];
after(() => Promise.all(proxies.map((proxy) => proxy.close())));

async function client(decide, options = {}) {
  const proxy = await startProxy(decide);
  proxies.push(proxy);
  const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: proxy.url, ...FAST_RETRIES, ...options });
  return { proxy, phospho };
}

const UNAVAILABLE = { status: 503, body: { detail: "the server is shutting down; retry", code: "unavailable" } };

test("a 503 is retried with the same event id, and the event is stored once", async () => {
  const { proxy, phospho } = await client(({ attempt }) => (attempt === 0 ? UNAVAILABLE : "forward"));
  const result = await phospho.log({ input: "retry", output: "503", sessionId: sessionFor("retry-503") });
  assert.equal(proxy.requests.length, 2);
  assert.equal(proxy.requests[0].body, proxy.requests[1].body, "identical bytes on retry");
  assert.equal(proxy.requests[1].json.event_id, result.eventId);
  assert.deepEqual(proxy.requests.map((request) => request.upstreamStatus), [undefined, 201]);
  assert.ok(await isStored(result.eventId));
});

test("a response lost after the server stored the event: the retry gets the original, no duplicate", async () => {
  const { proxy, phospho } = await client(({ attempt }) => (attempt === 0 ? "forward-then-drop" : "forward"));
  const result = await phospho.log({ input: "retry", output: "lost", sessionId: sessionFor("retry-lost") });
  // The first try was stored (201) but its answer never arrived; the retry was answered 200
  // with the original body: the server saw the same id twice and kept one event.
  assert.deepEqual(proxy.requests.map((request) => request.upstreamStatus), [201, 200]);
  assert.equal(proxy.requests[0].json.event_id, proxy.requests[1].json.event_id);
  assert.equal(result.eventId, proxy.requests[0].json.event_id);
  assert.equal(result.sessionId, sessionFor("retry-lost"));
});

test("Retry-After is honoured", async () => {
  const { proxy, phospho } = await client(
    ({ attempt }) =>
      attempt === 0 ? { status: 429, headers: { "retry-after": "1" }, body: { detail: "slow down" } } : "forward",
    { retryBaseDelayMs: 1, retryMaxDelayMs: 1 },
  );
  await phospho.log({ input: "retry", output: "after", sessionId: sessionFor("retry-after") });
  assert.equal(proxy.requests.length, 2);
  const waited = proxy.requests[1].at - proxy.requests[0].at;
  assert.ok(waited >= 950, `waited ${waited.toFixed(0)} ms, the server asked for 1000`);
  assert.ok(waited < 5000, `waited ${waited.toFixed(0)} ms`);
});

test("Retry-After as an HTTP date is honoured too", async () => {
  const { proxy, phospho } = await client(
    ({ attempt }) =>
      attempt === 0
        ? { status: 503, headers: { "retry-after": new Date(Date.now() + 2000).toUTCString() }, body: { detail: "later" } }
        : "forward",
    { retryBaseDelayMs: 1, retryMaxDelayMs: 1 },
  );
  await phospho.log({ input: "retry", output: "date" });
  const waited = proxy.requests[1].at - proxy.requests[0].at;
  // The date has whole seconds: 2 s ahead, truncated, is 1 to 2 s away.
  assert.ok(waited >= 900 && waited < 4000, `waited ${waited.toFixed(0)} ms`);
});

test("backoff doubles from retryBaseDelayMs, with jitter, up to retryMaxDelayMs", async () => {
  const { proxy, phospho } = await client(() => UNAVAILABLE, {
    maxRetries: 4,
    retryBaseDelayMs: 40,
    retryMaxDelayMs: 120,
  });
  const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
  assert.ok(error instanceof APIError);
  assert.equal(error.status, 503);
  assert.equal(error.message, "the server is shutting down; retry");
  assert.equal(proxy.requests.length, 5, "one try and maxRetries retries");
  const gaps = proxy.requests.slice(1).map((request, index) => request.at - proxy.requests[index].at);
  // Delays: min(120, 40·2^n) × [½, 1] → [20,40], [40,80], [60,120], [60,120] ms.
  const floors = [20, 40, 60, 60];
  gaps.forEach((gap, index) => assert.ok(gap >= floors[index] - 3, `gap ${index} was ${gap} ms`));
  assert.ok(new Set(proxy.requests.map((request) => request.json.event_id)).size === 1);
});

test("408 and other 5xx are retried; other 4xx are not", async () => {
  const statuses = [408, 500, 502, 504];
  const { proxy, phospho } = await client(({ attempt }) =>
    attempt < statuses.length ? { status: statuses[attempt], body: { detail: "try again" } } : "forward",
  { maxRetries: 4 });
  const result = await phospho.log({ input: "retry", output: "statuses", sessionId: sessionFor("retry-statuses") });
  assert.equal(proxy.requests.length, 5);
  assert.ok(await isStored(result.eventId));

  const conflict = await client(() => ({ status: 409, body: { detail: "event_id is already in use" } }));
  const error = await conflict.phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
  assert.equal(error.status, 409);
  assert.equal(conflict.proxy.requests.length, 1);
});

test("feedback is retried on 503, but not when it may already be stored (500, lost answer)", async () => {
  const { proxy, phospho } = await client(({ attempt }) => (attempt === 1 ? UNAVAILABLE : "forward"));
  const event = await phospho.log({ input: "retry", output: "feedback" });
  const feedback = await phospho.feedback({ eventId: event.eventId, score: 1 });
  assert.equal(feedback.eventId, event.eventId);
  assert.deepEqual(proxy.requests.map((request) => request.upstreamStatus), [201, undefined, 201]);

  // Feedback has no id of its own: a retry after a 500 or a lost answer could store it twice.
  const failing = await client(() => ({ status: 500, body: { detail: "internal error; it has been logged" } }));
  const error = await failing.phospho.feedback({ eventId: event.eventId, score: 1 }).catch((caught) => caught);
  assert.equal(error.status, 500);
  assert.equal(failing.proxy.requests.length, 1);

  const lost = await client(() => "forward-then-drop");
  const dropped = await lost.phospho.feedback({ eventId: event.eventId, score: 0 }).catch((caught) => caught);
  assert.ok(dropped instanceof APIConnectionError, String(dropped));
  assert.match(dropped.message, /the connection failed during the request/);
  assert.equal(lost.proxy.requests.length, 1);
});

test("a failure to connect is retried for feedback too (nothing was sent)", async () => {
  const { phospho } = await client();
  const event = await phospho.log({ input: "retry", output: "connect" });
  const dead = new Phospho({ apiKey: target().apiKey, baseUrl: await deadUrl(), ...FAST_RETRIES, maxRetries: 2 });
  const started = performance.now();
  const error = await dead.feedback({ eventId: event.eventId, score: 1 }).catch((caught) => caught);
  assert.ok(error instanceof APIConnectionError);
  assert.ok(performance.now() - started >= 14, "two backoffs happened");
});
