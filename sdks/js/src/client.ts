/** The `Phospho` client: log events (one, many, or queued) and feedback. */

import { Batcher } from "./batcher.js";
import { type Config, DEFAULTS, MAX_BATCH_EVENTS, resolveConfig } from "./config.js";
import { invalid } from "./errors.js";
import { Transport } from "./http.js";
import { newSessionId, nowIso } from "./ids.js";
import type {
  BatchStats,
  FeedbackParams,
  FeedbackResult,
  LogEventParams,
  LogResult,
  PhosphoOptions,
} from "./types.js";
import {
  BATCH_PATH,
  EVENTS_PATH,
  type EncodedEvent,
  batchBody,
  encodeEvent,
  encodeFeedback,
  feedbackResult,
  groups,
  logResult,
  logResults,
} from "./wire.js";

/** Run `build` now; a throw becomes a rejected promise, as callers of an async API expect. */
function attempt<T>(build: () => T): Promise<T> {
  try {
    return Promise.resolve(build());
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * A client for one phospho project.
 *
 * ```ts
 * const phospho = new Phospho({ apiKey: "ph_…" });
 * const { eventId } = await phospho.log({ input: "Hi", output: "Hello!" });
 * await phospho.feedback({ eventId, score: 1 });
 * ```
 *
 * Normally `log()` resolves once the server has durably stored the event. With
 * `batch: true` (or `BatchOptions`) it queues the event and resolves at once with a result made
 * on the client; the queue goes to the batch endpoint in the background (see `flush()`).
 */
export class Phospho {
  /** The server this client talks to, without a trailing slash. */
  readonly baseUrl: string;
  readonly #transport: Transport;
  readonly #maxBatchBytes: number;
  readonly #batcher: Batcher | null;

  constructor(options: PhosphoOptions = {}) {
    const config: Config = resolveConfig(options);
    this.baseUrl = config.baseUrl;
    this.#maxBatchBytes = config.maxBatchBytes;
    this.#transport = new Transport(config.baseUrl, config.apiKey, config);
    this.#batcher = config.batch
      ? new Batcher(
          {
            events: (events) => this.#postBatch(events),
            feedback: (path, json) => this.#transport.post(path, json, false),
          },
          config.batch,
        )
      : null;
  }

  /** True in batching mode. */
  get batching(): boolean {
    return this.#batcher !== null;
  }

  /**
   * Log one LLM interaction; resolves to its `eventId`, `sessionId`, `createdAt` and
   * `feedbackToken` (hand it to a web page, whose `sendFeedback` rates the event without a key).
   *
   * The event id (a UUIDv7) is made before the first try, so retries never store the event
   * twice. Rejects with `ValidationError` at once for a field of the wrong type. In batching
   * mode the result is made locally: `sessionId` is the one given or a new `sess_…` id (sent
   * along, so the server uses the same), `createdAt` is the client's clock and `feedbackToken`
   * is null (the server signs it).
   */
  log(params: LogEventParams): Promise<LogResult> {
    const batcher = this.#batcher;
    if (batcher === null) {
      return attempt(() => encodeEvent(params)).then(async (event) =>
        logResult(await this.#transport.post(EVENTS_PATH, event.json, true)),
      );
    }
    return attempt(() => {
      const event = encodeEvent(params, "event", newSessionId());
      batcher.put({ kind: "event", event });
      return {
        eventId: event.eventId,
        sessionId: event.sessionId as string,
        createdAt: nowIso(),
        feedbackToken: null,
      };
    });
  }

  /**
   * Log many events in as few requests as possible (up to 1000 events and `maxBatchBytes` per
   * request); resolves to their results in order.
   *
   * Every event is checked before anything is sent. Each request is all-or-nothing; when more
   * than one is needed and a later one fails, the earlier ones stay stored (pass your own
   * `eventId`s to retry the whole call without duplicates). Queued in batching mode.
   */
  logBatch(events: LogEventParams[]): Promise<LogResult[]> {
    const batcher = this.#batcher;
    return attempt(() => {
      if (!Array.isArray(events)) throw invalid("events", "must be an array of events");
      const session = batcher ? newSessionId : () => undefined;
      return events.map((event, index) => encodeEvent(event, `events[${index}]`, session()));
    }).then(async (encoded) => {
      if (batcher) {
        const createdAt = nowIso();
        for (const event of encoded) batcher.put({ kind: "event", event });
        return encoded.map((event) => ({
          eventId: event.eventId,
          sessionId: event.sessionId as string,
          createdAt,
          feedbackToken: null,
        }));
      }
      if (encoded.length === 0) return [];
      const results: LogResult[] = [];
      for (const group of groups(encoded, MAX_BATCH_EVENTS, this.#maxBatchBytes)) {
        results.push(...(await this.#postBatch(group)));
      }
      return results;
    });
  }

  /**
   * Attach feedback (`score` 1 = positive, 0 = negative) to a logged event.
   *
   * Not idempotent, so only retried when the server certainly did not process it. In batching
   * mode it is queued behind the events logged before it, and `feedbackId` is null.
   */
  feedback(params: FeedbackParams): Promise<FeedbackResult> {
    const batcher = this.#batcher;
    return attempt(() => encodeFeedback(params)).then(async ({ path, eventId, json }) => {
      if (batcher === null) return feedbackResult(await this.#transport.post(path, json, false));
      batcher.put({ kind: "feedback", path, json });
      return {
        feedbackId: null,
        eventId,
        score: params.score,
        comment: params.comment ?? null,
        createdAt: nowIso(),
      };
    });
  }

  /**
   * Batching mode: send what is queued now and wait (at most `timeoutMs`, default 10 s) until
   * it is done. Resolves to true when all of it was accepted in time; never rejects. Resolves to
   * true at once otherwise.
   */
  async flush(timeoutMs: number = DEFAULTS.flushTimeoutMs): Promise<boolean> {
    return this.#batcher ? this.#batcher.flush(timeoutMs) : true;
  }

  /** Batching-mode counters: queued, sent, dropped (queue full), failed (all zero otherwise). */
  stats(): BatchStats {
    return this.#batcher?.stats() ?? { queued: 0, sent: 0, dropped: 0, failed: 0 };
  }

  async #postBatch(events: EncodedEvent[]): Promise<LogResult[]> {
    const answer = await this.#transport.post(BATCH_PATH, batchBody(events), true);
    return logResults(answer, events.length);
  }
}
