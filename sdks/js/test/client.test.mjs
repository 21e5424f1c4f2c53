// The documented calls against a real server, through the package's ESM entry point.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";

import {
  APIConnectionError,
  ConfigurationError,
  DEFAULT_BASE_URL,
  Phospho,
  PhosphoError,
  VERSION,
  ValidationError,
} from "phospho-sdk";

import { deadUrl, newEventId, sessionFor, startProxy, target } from "./helpers.mjs";

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("log and feedback", () => {
  test("log resolves to the stored event, feedback attaches to it", async () => {
    const { baseUrl, apiKey } = target();
    const phospho = new Phospho({ apiKey, baseUrl });
    const result = await phospho.log({
      input: "What's the weather?",
      output: "It's sunny today!",
      sessionId: sessionFor("basic"),
      userId: "user_456",
      metadata: { model: "gpt-4", latencyMs: 800 },
    });
    assert.deepEqual(Object.keys(result).sort(), ["createdAt", "eventId", "feedbackToken", "sessionId"]);
    assert.match(result.feedbackToken, /^phf_[A-Za-z0-9_-]+$/);
    assert.match(result.eventId, UUID7);
    assert.equal(result.sessionId, sessionFor("basic"));
    assert.ok(!Number.isNaN(Date.parse(result.createdAt)), result.createdAt);

    const feedback = await phospho.feedback({ eventId: result.eventId, score: 1, comment: "Great!" });
    assert.equal(feedback.eventId, result.eventId);
    assert.equal(feedback.score, 1);
    assert.equal(feedback.comment, "Great!");
    assert.ok(feedback.feedbackId);
    const without = await phospho.feedback({ eventId: result.eventId, score: 0 });
    assert.equal(without.comment, null);
  });

  test("the server makes a session id when none is given", async () => {
    const phospho = new Phospho(target());
    const result = await phospho.log({ input: "hi", output: "hello" });
    assert.match(result.sessionId, /^sess_/);
  });

  test("an explicit eventId is used, and logging it again returns the original", async () => {
    const phospho = new Phospho(target());
    const eventId = newEventId();
    const first = await phospho.log({ input: "a", output: "b", eventId });
    const again = await phospho.log({ input: "a", output: "b", eventId });
    assert.equal(first.eventId, eventId);
    assert.deepEqual(again, first);
  });
});

describe("the wire format", () => {
  const proxies = [];
  after(() => Promise.all(proxies.map((proxy) => proxy.close())));

  test("camelCase in, snake_case out, metadata untouched, key in a Bearer header", async () => {
    const proxy = await startProxy();
    proxies.push(proxy);
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: proxy.url + "/" });
    const metadata = { model: "gpt-4", latencyMs: 800, nested: { someKey: [1, "two", null] }, tokens_in: 3 };
    const result = await phospho.log({
      input: "in",
      output: "out",
      sessionId: sessionFor("wire"),
      userId: "u1",
      metadata,
    });
    const [request] = proxy.requests;
    assert.equal(request.url, "/api/v1/events");
    assert.equal(request.headers.authorization, `Bearer ${target().apiKey}`);
    assert.equal(request.headers["content-type"], "application/json");
    assert.equal(request.headers["user-agent"], `phospho-sdk-js/${VERSION}`);
    assert.deepEqual(request.json, {
      input: "in",
      output: "out",
      session_id: sessionFor("wire"),
      user_id: "u1",
      metadata,
      event_id: result.eventId,
    });

    await phospho.feedback({ eventId: result.eventId, score: 0, comment: "meh" });
    assert.equal(proxy.requests[1].url, `/api/v1/events/${result.eventId}/feedback`);
    assert.deepEqual(proxy.requests[1].json, { score: 0, comment: "meh" });
  });

  test("bad fields are refused locally, before anything is sent", async () => {
    const proxy = await startProxy();
    proxies.push(proxy);
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: proxy.url });
    const refused = async (promise, pattern) => {
      const error = await promise.then(() => null, (caught) => caught);
      assert.ok(error instanceof ValidationError, String(error));
      assert.equal(error.status, undefined);
      assert.match(error.message, pattern);
    };
    await refused(phospho.log({ input: "a", output: "b", session_id: "x" }), /unknown field\(s\) session_id \(use sessionId\)/);
    await refused(phospho.log({ input: 1, output: "b" }), /^input: must be a string \(got number\)$/);
    await refused(phospho.log({ output: "b" }), /^input: field required$/);
    await refused(phospho.log({ input: "a", output: "b", sessionId: "" }), /^sessionId: must be 1 to 256 characters long$/);
    await refused(phospho.log({ input: "a", output: "b", userId: "x".repeat(257) }), /^userId: /);
    await refused(phospho.log({ input: "a", output: "b", eventId: "42" }), /^eventId: must be a UUID/);
    await refused(phospho.log({ input: "a", output: "b", metadata: [1] }), /^metadata: must be an object/);
    await refused(phospho.log({ input: "a", output: "b", metadata: { x: NaN } }), /^metadata: .*NaN/);
    await refused(phospho.log({ input: "a\u0000", output: "b" }), /^input: must not contain NUL/);
    await refused(phospho.logBatch([{ input: "a", output: "b" }, { input: "a" }]), /^events\[1\]\.output: field required$/);
    await refused(phospho.feedback({ eventId: "nope", score: 1 }), /^eventId: must be the UUID/);
    await refused(phospho.feedback({ eventId: newEventId(), score: 2 }), /^score: must be the integer 0 or 1/);
    await refused(phospho.feedback({ eventId: newEventId(), score: true }), /^score: /);
    assert.equal(proxy.requests.length, 0);

    // A backslash followed by "u0000" is text, not a NUL: it is sent.
    const result = await phospho.log({ input: "a\\u0000", output: "b" });
    assert.equal(proxy.requests[0].json.input, "a\\u0000");
    assert.ok(result.eventId);
  });

  test("an upper-case event id is sent in canonical form", async () => {
    const phospho = new Phospho(target());
    const eventId = newEventId();
    const result = await phospho.log({ input: "a", output: "b", eventId: eventId.toUpperCase() });
    assert.equal(result.eventId, eventId);
  });
});

describe("configuration", () => {
  test("environment variables are used when no option is given", async () => {
    // PHOSPHO_BASE_URL and PHOSPHO_API_KEY are set by whoever runs these tests.
    const phospho = new Phospho();
    assert.equal(phospho.baseUrl, target().baseUrl);
    const result = await phospho.log({ input: "from env", output: "ok" });
    assert.match(result.eventId, UUID7);
  });

  test("an explicit option wins over the environment", async () => {
    const phospho = new Phospho({ baseUrl: await deadUrl(), maxRetries: 0 });
    await assert.rejects(phospho.log({ input: "a", output: "b" }), APIConnectionError);
  });

  test("without option or environment, the base URL defaults to 127.0.0.1:8000", () => {
    const saved = process.env.PHOSPHO_BASE_URL;
    delete process.env.PHOSPHO_BASE_URL;
    try {
      assert.equal(new Phospho({ apiKey: "ph_x" }).baseUrl, "http://127.0.0.1:8000");
      assert.equal(DEFAULT_BASE_URL, "http://127.0.0.1:8000");
    } finally {
      process.env.PHOSPHO_BASE_URL = saved;
    }
  });

  test("no API key anywhere is an error naming the fix", () => {
    const saved = process.env.PHOSPHO_API_KEY;
    delete process.env.PHOSPHO_API_KEY;
    try {
      assert.throws(
        () => new Phospho(),
        (error) => error instanceof ConfigurationError && error instanceof PhosphoError && /PHOSPHO_API_KEY/.test(error.message),
      );
    } finally {
      process.env.PHOSPHO_API_KEY = saved;
    }
  });

  test("bad options are a ConfigurationError", () => {
    assert.throws(() => new Phospho({ apiKey: "ph_x", baseUrl: "localhost:8000" }), ConfigurationError);
    assert.throws(() => new Phospho({ apiKey: "ph_x", maxRetries: -1 }), ConfigurationError);
    assert.throws(() => new Phospho({ apiKey: "ph_x", batch: { maxBatchSize: 1001 } }), ConfigurationError);
  });

  test("the key is not exposed on the client", () => {
    const phospho = new Phospho({ apiKey: "ph_secret_value" });
    assert.ok(!JSON.stringify(phospho).includes("ph_secret_value"));
    assert.ok(!Object.values(phospho).includes("ph_secret_value"));
  });

  test("VERSION matches package.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    assert.equal(VERSION, pkg.version);
  });

  test("the ESM entry point is the ESM build", () => {
    assert.match(import.meta.resolve("phospho-sdk"), /\/dist\/esm\/index\.js$/);
  });
});
