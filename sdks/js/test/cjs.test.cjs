// The CommonJS build, loaded with require(), works against the real server.

const assert = require("node:assert/strict");
const { test } = require("node:test");

const sdk = require("phospho-sdk");

test("require() loads the CommonJS build", () => {
  assert.match(require.resolve("phospho-sdk"), /[\\/]dist[\\/]cjs[\\/]index\.js$/);
  assert.equal(typeof sdk.Phospho, "function");
  for (const name of [
    "PhosphoError", "APIError", "AuthenticationError", "NotFoundError", "ValidationError",
    "RateLimitError", "APIConnectionError", "APITimeoutError",
  ]) {
    assert.equal(typeof sdk[name], "function", name);
  }
});

test("log, feedback and typed errors work from CommonJS", async () => {
  const phospho = new sdk.Phospho({
    apiKey: process.env.PHOSPHO_API_KEY,
    baseUrl: process.env.PHOSPHO_BASE_URL,
  });
  const result = await phospho.log({ input: "from", output: "require", metadata: { model: "gpt-4" } });
  assert.match(result.eventId, /^[0-9a-f-]{36}$/);
  const feedback = await phospho.feedback({ eventId: result.eventId, score: 1 });
  assert.equal(feedback.score, 1);
  const error = await phospho.feedback({ eventId: "00000000-0000-7000-8000-000000000000", score: 1 })
    .catch((caught) => caught);
  assert.ok(error instanceof sdk.NotFoundError);
  assert.equal(error.name, "NotFoundError");
  assert.ok(error instanceof sdk.PhosphoError && error instanceof Error);
});
