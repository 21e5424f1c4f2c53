// tags, status and error: on the wire as the server takes them, stored, and refused locally
// when the server would refuse them.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { Phospho, ValidationError } from "phospho-sdk";

import { sessionFor, startProxy, target } from "./helpers.mjs";

describe("tags, status and error", () => {
  const proxies = [];
  after(() => Promise.all(proxies.map((proxy) => proxy.close())));

  test("log sends them as given and the server stores them", async () => {
    const proxy = await startProxy();
    proxies.push(proxy);
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: proxy.url });
    const result = await phospho.log({
      input: "in",
      output: "",
      sessionId: sessionFor("fields"),
      tags: ["prod", "eu", "prod"],
      error: "timeout",
    });
    const [request] = proxy.requests;
    assert.deepEqual(request.json.tags, ["prod", "eu", "prod"]);
    assert.equal(request.json.error, "timeout");
    assert.equal("status" in request.json, false);
    assert.ok(result.eventId);
  });

  test("logBatch sends each event's fields", async () => {
    const phospho = new Phospho(target());
    const session = sessionFor("fields-batch");
    const results = await phospho.logBatch([
      { input: "a", output: "b", sessionId: session, tags: ["x"], status: "ok" },
      { input: "a", output: "b", sessionId: session, status: "error", error: "boom" },
    ]);
    assert.equal(results.length, 2);
  });

  test("values the server would refuse are refused before sending", async () => {
    const proxy = await startProxy();
    proxies.push(proxy);
    const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: proxy.url });
    const refused = async (fields, pattern) => {
      const error = await phospho.log({ input: "a", output: "b", ...fields }).then(() => null, (caught) => caught);
      assert.ok(error instanceof ValidationError, String(error));
      assert.equal(error.status, undefined);
      assert.match(error.message, pattern);
    };
    await refused({ tags: Array.from({ length: 21 }, (_, n) => `t${n}`) }, /^tags: at most 20 tags/);
    await refused({ tags: ["x".repeat(65)] }, /^tags\[0\]: must be a string of 1 to 64/);
    await refused({ tags: ["ok", 5] }, /^tags\[1\]: /);
    await refused({ tags: "prod" }, /^tags: must be an array/);
    await refused({ status: "bad" }, /^status: must be "ok" or "error"/);
    await refused({ status: "ok", error: "e" }, /^error: must not be given with status "ok"/);
    await refused({ error: "e".repeat(4097) }, /^error: /);
    const batch = await phospho
      .logBatch([{ input: "a", output: "b" }, { input: "a", output: "b", status: "ERROR" }])
      .catch((caught) => caught);
    assert.ok(batch instanceof ValidationError);
    assert.match(batch.message, /^events\[1\]\.status: /);
    assert.equal(proxy.requests.length, 0);
  });
});
