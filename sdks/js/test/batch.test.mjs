// Batching mode and logBatch against the real batch endpoint.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { Phospho, ValidationError } from "phospho-sdk";

import { FAST_RETRIES, isStored, newEventId, sessionFor, startProxy, target } from "./helpers.mjs";

const proxies = [];
after(() => Promise.all(proxies.map((proxy) => proxy.close())));

async function client(batch, decide, options = {}) {
  const proxy = await startProxy(decide);
  proxies.push(proxy);
  const phospho = new Phospho({ apiKey: target().apiKey, baseUrl: proxy.url, ...FAST_RETRIES, batch, ...options });
  return { proxy, phospho };
}

async function until(condition, timeoutMs = 5000) {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not met in time");
    await sleep(5);
  }
}

describe("batching mode", () => {
  test("log() resolves at once; flush() sends everything in batches of maxBatchSize, losing nothing", async () => {
    // The first batch request fails with 503: it is retried with the same events.
    const { proxy, phospho } = await client({ maxBatchSize: 10, flushIntervalMs: 60_000 }, ({ attempt }) =>
      attempt === 0 ? { status: 503, body: { detail: "busy" } } : "forward",
    );
    assert.equal(phospho.batching, true);
    const session = sessionFor("batch");
    const results = [];
    for (let index = 0; index < 25; index += 1) {
      results.push(await phospho.log({ input: `q${index}`, output: `a${index}`, sessionId: session, metadata: { index } }));
    }
    assert.ok(results.every((result) => result.sessionId === session && !Number.isNaN(Date.parse(result.createdAt))));
    assert.equal(new Set(results.map((result) => result.eventId)).size, 25);
    assert.equal(await phospho.flush(), true);
    assert.deepEqual(phospho.stats(), { queued: 0, sent: 25, dropped: 0, failed: 0 });

    const batches = proxy.requests.filter((request) => request.url === "/api/v1/events/batch");
    assert.deepEqual(batches.map((request) => request.json.events.length), [10, 10, 10, 5], "the first batch twice");
    assert.equal(batches[0].body, batches[1].body, "the retried batch is byte-identical");
    const sent = batches.slice(1).flatMap((request) => request.json.events);
    assert.deepEqual(sent.map((event) => event.input), results.map((_, index) => `q${index}`));
    assert.deepEqual(sent.map((event) => event.event_id), results.map((result) => result.eventId));
    for (const eventId of [results[0].eventId, results[24].eventId]) assert.ok(await isStored(eventId));
  });

  test("the session id made on the client is the one the server stores", async () => {
    const { phospho } = await client({ flushIntervalMs: 60_000 });
    const local = await phospho.log({ input: "no", output: "session" });
    assert.match(local.sessionId, /^sess_[0-9a-f]{24}$/);
    assert.equal(await phospho.flush(), true);
    const direct = new Phospho(target());
    const stored = await direct.log({ input: "again", output: "same id", eventId: local.eventId });
    assert.equal(stored.sessionId, local.sessionId);
  });

  test("a lone event is sent flushIntervalMs after it was queued", async () => {
    const { proxy, phospho } = await client({ flushIntervalMs: 100 });
    const started = performance.now();
    const result = await phospho.log({ input: "age", output: "based" });
    assert.equal(proxy.requests.length, 0, "log() resolved before the event was sent");
    await until(() => proxy.requests.length === 1);
    const elapsed = proxy.requests[0].at - started;
    assert.ok(elapsed >= 90, `sent after ${elapsed.toFixed(0)} ms`);
    assert.equal(proxy.requests[0].url, "/api/v1/events/batch");
    await until(() => phospho.stats().sent === 1);
    assert.ok(await isStored(result.eventId));
  });

  test("a batch is sent before its JSON passes maxBatchBytes", async () => {
    const { proxy, phospho } = await client({ flushIntervalMs: 60_000 }, undefined, { maxBatchBytes: 3000 });
    const text = "x".repeat(1000);
    for (let index = 0; index < 5; index += 1) await phospho.log({ input: text, output: "o" });
    assert.equal(await phospho.flush(), true);
    assert.deepEqual(proxy.requests.map((request) => request.json.events.length), [2, 2, 1]);
  });

  test("feedback is queued behind the events logged before it", async () => {
    const { proxy, phospho } = await client({ flushIntervalMs: 60_000 });
    const event = await phospho.log({ input: "queued", output: "then rated", sessionId: sessionFor("batch-feedback") });
    const feedback = await phospho.feedback({ eventId: event.eventId, score: 1, comment: "queued" });
    assert.deepEqual(
      { ...feedback, createdAt: undefined },
      { feedbackId: null, eventId: event.eventId, score: 1, comment: "queued", createdAt: undefined },
    );
    assert.equal(proxy.requests.length, 0);
    assert.equal(await phospho.flush(), true);
    assert.deepEqual(
      proxy.requests.map((request) => [request.url, request.upstreamStatus]),
      [["/api/v1/events/batch", 201], [`/api/v1/events/${event.eventId}/feedback`, 201]],
    );
    assert.deepEqual(phospho.stats(), { queued: 0, sent: 2, dropped: 0, failed: 0 });
  });

  test("a 422 drops only the events the server names; the rest is stored", async () => {
    const errors = [];
    const { proxy, phospho } = await client({
      flushIntervalMs: 60_000,
      onError: (error, count) => errors.push({ error, count }),
    });
    const session = sessionFor("batch-partial");
    const first = await phospho.log({ input: "good", output: "1", sessionId: session });
    await phospho.log({ input: "bad", output: "2", sessionId: session, metadata: { latencyMs: -1 } });
    const third = await phospho.log({ input: "good", output: "3", sessionId: session });
    assert.equal(await phospho.flush(), false, "flush() reports the loss");
    assert.deepEqual(phospho.stats(), { queued: 0, sent: 2, dropped: 0, failed: 1 });
    assert.equal(errors.length, 1);
    assert.ok(errors[0].error instanceof ValidationError);
    assert.match(errors[0].error.message, /^body\.events\.1\.metadata\.latencyMs: /);
    assert.equal(errors[0].count, 1);
    assert.deepEqual(proxy.requests.map((request) => request.json.events.length), [3, 2]);
    assert.ok(await isStored(first.eventId));
    assert.ok(await isStored(third.eventId));
    assert.equal(await phospho.flush(), true, "the loss was reported once");
  });

  test("a 413 splits the batch in halves", async () => {
    const { proxy, phospho } = await client({ flushIntervalMs: 60_000 }, ({ body }) =>
      JSON.parse(body).events.length > 2 ? { status: 413, body: { detail: "too large" } } : "forward",
    );
    for (let index = 0; index < 5; index += 1) await phospho.log({ input: `s${index}`, output: "o" });
    assert.equal(await phospho.flush(), true);
    assert.deepEqual(proxy.requests.map((request) => request.json.events.length), [5, 3, 2, 1, 2]);
    assert.equal(phospho.stats().sent, 5);
  });

  test("past maxQueueSize new items are dropped, counted and reported once", async () => {
    const reports = [];
    const { phospho } = await client({
      flushIntervalMs: 60_000,
      maxQueueSize: 3,
      onError: (error, count) => reports.push([error.message, count]),
    });
    for (let index = 0; index < 5; index += 1) await phospho.log({ input: `d${index}`, output: "o" });
    assert.deepEqual(phospho.stats(), { queued: 3, sent: 0, dropped: 2, failed: 0 });
    assert.deepEqual(reports, [["the queue is full (3 items); dropping", 1]]);
    assert.equal(await phospho.flush(), true);
    assert.deepEqual(phospho.stats(), { queued: 0, sent: 3, dropped: 2, failed: 0 });
  });

  test("an unreachable server: flush() resolves to false, never rejects", async () => {
    const { phospho } = await client(
      { flushIntervalMs: 60_000, onError: () => {} },
      () => ({ status: 503, body: { detail: "down" } }),
      { maxRetries: 1 },
    );
    await phospho.log({ input: "lost", output: "o" });
    assert.equal(await phospho.flush(), false);
    assert.equal(phospho.stats().failed, 1);
  });

  test("events never flushed are sent when the process ends on its own", async () => {
    const eventId = newEventId();
    const script = `
      import { Phospho } from "phospho-sdk";
      const phospho = new Phospho({ batch: { flushIntervalMs: 60000 } });
      await phospho.log({ input: "exit", output: "flush", eventId: "${eventId}", sessionId: "${sessionFor("batch-exit")}" });
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: new URL("..", import.meta.url),
      encoding: "utf8",
      timeout: 20_000,
    });
    assert.equal(child.status, 0, child.stderr);
    assert.ok(await isStored(eventId), "the queued event reached the server");
  });
});

describe("logBatch", () => {
  test("sends events at once, results in input order", async () => {
    const { proxy, phospho } = await client(undefined);
    const ids = [newEventId(), newEventId(), newEventId()];
    const results = await phospho.logBatch(
      ids.map((eventId, index) => ({ input: `b${index}`, output: "o", eventId, sessionId: sessionFor("log-batch") })),
    );
    assert.deepEqual(results.map((result) => result.eventId), ids);
    assert.ok(results.every((result) => result.sessionId === sessionFor("log-batch")));
    assert.equal(proxy.requests.length, 1);
    assert.deepEqual(proxy.requests[0].json.events.map((event) => event.event_id), ids);
    assert.deepEqual(await phospho.logBatch([]), []);
    assert.equal(proxy.requests.length, 1);
  });

  test("splits into requests of at most 1000 events", async () => {
    const { proxy, phospho } = await client(undefined);
    const events = Array.from({ length: 1001 }, (_, index) => ({ input: `m${index}`, output: "o", sessionId: sessionFor("log-batch-many") }));
    const results = await phospho.logBatch(events);
    assert.equal(results.length, 1001);
    assert.deepEqual(proxy.requests.map((request) => request.json.events.length), [1000, 1]);
  });

  test("each request is all or nothing: one event refused by the server refuses its request", async () => {
    const phospho = new Phospho(target());
    const ids = [newEventId(), newEventId()];
    const error = await phospho
      .logBatch([
        { input: "fine", output: "o", eventId: ids[0] },
        { input: "bad", output: "o", eventId: ids[1], metadata: { tokensIn: 1.5 } },
      ])
      .catch((caught) => caught);
    assert.ok(error instanceof ValidationError);
    assert.equal(error.status, 422);
    assert.match(error.message, /^body\.events\.1\.metadata\.tokensIn: /);
    // Nothing of the refused request was stored (the probe creates the event: 201, not 200).
    assert.equal(await isStored(ids[0]), false);
  });

  test("in batching mode, logBatch queues", async () => {
    const { proxy, phospho } = await client({ flushIntervalMs: 60_000 });
    const results = await phospho.logBatch([{ input: "q1", output: "o" }, { input: "q2", output: "o", sessionId: "given" }]);
    assert.match(results[0].sessionId, /^sess_/);
    assert.equal(results[1].sessionId, "given");
    assert.equal(proxy.requests.length, 0);
    assert.equal(await phospho.flush(), true);
    assert.equal(proxy.requests[0].json.events[0].session_id, results[0].sessionId);
  });
});
