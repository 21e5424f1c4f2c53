// sendFeedback: a browser's thumbs up/down with a log result's feedbackToken, no API key,
// against the real server (the page-in-a-browser half is tests/test_feedback_token_browser.py).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";

import { AuthenticationError, ConfigurationError, Phospho, RateLimitError, ValidationError } from "phospho-sdk";
import { FEEDBACK_PATH, sendFeedback } from "phospho-sdk/feedback";

import { sessionFor, startProxy, target } from "./helpers.mjs";

async function logged(phospho) {
  return phospho.log({ input: "q", output: "a", sessionId: sessionFor("send-feedback") });
}

describe("sendFeedback", () => {
  const proxies = [];
  after(() => Promise.all(proxies.map((proxy) => proxy.close())));

  test("a log result's token rates its event without any key", async () => {
    const { baseUrl } = target();
    const result = await logged(new Phospho(target()));
    assert.match(result.feedbackToken, /^phf_/);
    const proxy = await startProxy();
    proxies.push(proxy);
    const feedback = await sendFeedback({ token: result.feedbackToken, score: 0, comment: "meh", baseUrl: proxy.url + "/" });
    assert.equal(feedback.eventId, result.eventId);
    assert.equal(feedback.score, 0);
    assert.equal(feedback.comment, "meh");
    assert.ok(feedback.feedbackId);
    const [request] = proxy.requests;
    assert.equal(request.url, FEEDBACK_PATH);
    assert.equal(request.headers.authorization, undefined, "no key is sent");
    assert.deepEqual(request.json, { token: result.feedbackToken, score: 0, comment: "meh" });
    const again = await sendFeedback({ token: result.feedbackToken, score: 1, baseUrl });
    assert.equal(again.comment, null);
  });

  test("a tampered token is an AuthenticationError from the server", async () => {
    const result = await logged(new Phospho(target()));
    const token = result.feedbackToken;
    const flipped = token.slice(0, 10) + (token[10] === "A" ? "B" : "A") + token.slice(11);
    const error = await sendFeedback({ token: flipped, score: 1, baseUrl: target().baseUrl }).catch((e) => e);
    assert.ok(error instanceof AuthenticationError, String(error));
    assert.equal(error.status, 401);
    assert.match(error.message, /invalid feedback token/);
  });

  test("bad parameters are refused locally", async () => {
    const { baseUrl } = target();
    const refused = async (params, type, pattern) => {
      const error = await sendFeedback(params).catch((e) => e);
      assert.ok(error instanceof type, String(error));
      assert.match(error.message, pattern);
    };
    await refused({ token: "phf_x", score: 2, baseUrl }, ValidationError, /^score: /);
    await refused({ token: "", score: 1, baseUrl }, ValidationError, /^token: /);
    await refused({ token: "phf_x", score: 1, baseUrl, apiKey: "ph_x" }, ValidationError, /unknown field\(s\) apiKey/);
    await refused({ token: "phf_x", score: 1 }, ConfigurationError, /baseUrl must be/);
    await refused({ token: "phf_x", score: 1, baseUrl: "ftp://x" }, ConfigurationError, /baseUrl must be/);
  });

  test("429 is retried after Retry-After, then given up as a RateLimitError", async () => {
    const result = await logged(new Phospho(target()));
    const limited = { status: 429, headers: { "retry-after": "0" }, body: { detail: "slow down", code: "too_many_requests" } };
    const proxy = await startProxy(({ attempt }) => (attempt === 0 ? limited : "forward"));
    proxies.push(proxy);
    const feedback = await sendFeedback({ token: result.feedbackToken, score: 1, baseUrl: proxy.url });
    assert.equal(feedback.eventId, result.eventId);
    assert.equal(proxy.requests.length, 2);
    const always = await startProxy(() => limited);
    proxies.push(always);
    const error = await sendFeedback({ token: result.feedbackToken, score: 1, baseUrl: always.url, maxRetries: 1 }).catch((e) => e);
    assert.ok(error instanceof RateLimitError, String(error));
    assert.equal(always.requests.length, 2);
  });

  test("the feedback module loads nothing of Node nor the key-bearing client", () => {
    const seen = new Set();
    const visit = (file) => {
      if (seen.has(file)) return;
      seen.add(file);
      const code = readFileSync(new URL(`../dist/esm/${file}`, import.meta.url), "utf8");
      for (const [, spec] of code.matchAll(/^import [^;]*?from "([^"]+)"/gm)) {
        assert.ok(spec.startsWith("./"), `${file} imports ${spec}`);
        visit(spec.slice(2));
      }
    };
    visit("feedback.js");
    assert.deepEqual([...seen].sort(), ["errors.js", "feedback.js", "http.js", "version.js"]);
  });
});
