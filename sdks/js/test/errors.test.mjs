// Each failure the server (or the network) produces becomes its own typed error.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  AuthenticationError,
  NotFoundError,
  Phospho,
  PhosphoError,
  RateLimitError,
  ValidationError,
} from "phospho-sdk";

import { FAST_RETRIES, deadUrl, newEventId, startProxy, target } from "./helpers.mjs";

const proxies = [];
after(() => Promise.all(proxies.map((proxy) => proxy.close())));

async function proxy(decide) {
  const started = await startProxy(decide);
  proxies.push(started);
  return started;
}

describe("server errors", () => {
  test("401: AuthenticationError with the server's message, not retried", async () => {
    const counting = await proxy();
    const phospho = new Phospho({ apiKey: "ph_not_a_real_key", baseUrl: counting.url, ...FAST_RETRIES });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.ok(error instanceof AuthenticationError, String(error));
    assert.ok(error instanceof APIError && error instanceof PhosphoError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "unauthorized");
    assert.equal(error.message, error.body.detail);
    assert.ok(error.message.length > 10, error.message);
    assert.equal(error.headers["www-authenticate"], "Bearer");
    assert.equal(counting.requests.length, 1);
  });

  test("404: NotFoundError for feedback on an unknown event", async () => {
    const phospho = new Phospho(target());
    const error = await phospho.feedback({ eventId: newEventId(), score: 1 }).catch((caught) => caught);
    assert.ok(error instanceof NotFoundError, String(error));
    assert.equal(error.status, 404);
    assert.equal(error.message, "event not found");
  });

  test("422: ValidationError carries the server's sentence and located errors, not retried", async () => {
    const counting = await proxy();
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: counting.url, ...FAST_RETRIES });
    const error = await phospho
      .log({ input: "a", output: "b", metadata: { latencyMs: -1 } })
      .catch((caught) => caught);
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.status, 422);
    assert.equal(error.code, "invalid");
    assert.equal(error.message, "body.metadata.latencyMs: must be a non-negative number");
    assert.equal(error.message, error.body.detail);
    assert.deepEqual(error.errors[0].loc, ["body", "metadata", "latencyMs"]);
    assert.equal(counting.requests.length, 1);
  });

  test("413: a body over the server's limit is a ValidationError", async () => {
    const phospho = new Phospho(target());
    const error = await phospho.log({ input: "x".repeat(1_100_000), output: "b" }).catch((caught) => caught);
    assert.ok(error instanceof ValidationError, String(error));
    assert.equal(error.status, 413);
    assert.match(error.message, /larger than \d+ bytes/);
  });

  test("429: RateLimitError with the server's Retry-After once retries are spent", async () => {
    const limited = await proxy(() => ({
      status: 429,
      headers: { "retry-after": "7" },
      body: { detail: "slow down", code: "rate_limited" },
    }));
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: limited.url, maxRetries: 0 });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.ok(error instanceof RateLimitError, String(error));
    assert.equal(error.status, 429);
    assert.equal(error.message, "slow down");
    assert.equal(error.retryAfterMs, 7000);
  });

  test("a Retry-After beyond retryAfterMaxMs is not waited for", async () => {
    const limited = await proxy(() => ({ status: 429, headers: { "retry-after": "120" }, body: { detail: "later" } }));
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: limited.url, ...FAST_RETRIES });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.ok(error instanceof RateLimitError);
    assert.equal(error.retryAfterMs, 120_000);
    assert.equal(limited.requests.length, 1);
  });

  test("another status: APIError with the status, even when the body is not JSON", async () => {
    const broken = await proxy(() => ({ status: 502, headers: { "content-type": "text/html" }, body: "<h1>Bad gateway</h1>" }));
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: broken.url, maxRetries: 0 });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.equal(error.constructor, APIError);
    assert.equal(error.status, 502);
    assert.match(error.message, /^HTTP 502 from http:\/\/127\.0\.0\.1:\d+\/api\/v1\/events: <h1>Bad gateway/);
  });

  test("a redirect is not followed: APIError naming where it points", async () => {
    const moved = await proxy(() => ({ status: 301, headers: { location: "https://elsewhere.example/api/v1/events" }, body: "" }));
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: moved.url, ...FAST_RETRIES });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.equal(error.status, 301);
    assert.match(error.message, /redirected to https:\/\/elsewhere\.example\/api\/v1\/events; is baseUrl/);
    assert.equal(moved.requests.length, 1);
  });

  test("a 2xx that is not JSON (not a phospho server) is an APIError, not retried", async () => {
    const wrong = await proxy(() => ({ status: 200, headers: { "content-type": "text/html" }, body: "<html>hello</html>" }));
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: wrong.url, ...FAST_RETRIES });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.equal(error.constructor, APIError);
    assert.match(error.message, /did not answer with JSON/);
    assert.equal(wrong.requests.length, 1);
  });
});

describe("network errors", () => {
  test("APIConnectionError when nothing listens, after the configured retries", async () => {
    const phospho = new Phospho({ apiKey: "ph_x", baseUrl: await deadUrl(), ...FAST_RETRIES, maxRetries: 2 });
    const started = performance.now();
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.ok(error instanceof APIConnectionError, String(error));
    assert.ok(error instanceof APIError);
    assert.equal(error.status, undefined);
    assert.match(error.message, /^could not connect to the phospho server at .* \(ECONNREFUSED\); check baseUrl/);
    assert.ok(error.cause, "the original error is kept as cause");
    // Two backoffs of at least 5 and 10 ms (base 10 ms, jitter ½–1) happened before giving up.
    assert.ok(performance.now() - started >= 14);
  });

  test("APITimeoutError when the server does not answer in time, retried like any connection error", async () => {
    const silent = await proxy(() => "hang");
    const phospho = new Phospho({ apiKey: "ph_x", baseUrl: silent.url, timeoutMs: 200, ...FAST_RETRIES, maxRetries: 1 });
    const error = await phospho.log({ input: "a", output: "b" }).catch((caught) => caught);
    assert.ok(error instanceof APITimeoutError, String(error));
    assert.ok(error instanceof APIConnectionError);
    assert.equal(silent.requests.length, 2);
    assert.equal(silent.requests[0].json.event_id, silent.requests[1].json.event_id);
  });
});
