/** Public types: what the client accepts and what it resolves to (camelCase throughout). */

import type { PhosphoError } from "./errors.js";
import type { EventStatus } from "./fields.js";

/** JSON-serialisable metadata. Sent untouched; the server lifts `model`, tokens and latency. */
export type Metadata = Record<string, unknown>;

/** One LLM interaction to log. */
export interface LogEventParams {
  /** What the user (or your app) sent to the model. */
  input: string;
  /** What the model answered. */
  output: string;
  /** Groups events into a conversation (1–256 characters). The server makes one when omitted. */
  sessionId?: string | undefined;
  /** Your end user's id (1–256 characters). */
  userId?: string | undefined;
  /**
   * Anything JSON. Recognised keys become typed columns: `model`, `tokens_in`/`tokensIn`,
   * `tokens_out`/`tokensOut`, `latency_ms`/`latencyMs`.
   */
  metadata?: Metadata | undefined;
  /** A UUID for the event. The SDK makes one (before the first try) when omitted. */
  eventId?: string | undefined;
  /** Labels to filter by: at most 20, each 1–64 characters (repeats are dropped). */
  tags?: readonly string[] | undefined;
  /** Whether the call succeeded; leave it out when unknown. */
  status?: EventStatus | undefined;
  /** What went wrong (at most 4,096 characters); alone, it means status "error". */
  error?: string | undefined;
}

/**
 * What `log` resolves to: the event's id, its session, when it was created and its feedback
 * token. From the server normally; in batching mode made on the client before sending
 * (`sessionId` is the one given or a new `sess_…` id, sent along so the server uses the same;
 * `createdAt` is the client's clock; `feedbackToken` is null).
 */
export interface LogResult {
  eventId: string;
  sessionId: string;
  /** ISO 8601 time. */
  createdAt: string;
  /**
   * Lets whoever holds it rate this one event without an API key, until it expires (24 h by
   * default): hand it to your web page, which calls `sendFeedback`. Null in batching mode (the
   * server signs it) and from a server older than feedback tokens.
   */
  feedbackToken: string | null;
}

/** A thumbs up (1) or down (0) on a logged event. */
export interface FeedbackParams {
  eventId: string;
  score: 0 | 1;
  comment?: string | undefined;
}

/** What `feedback` resolves to. In batching mode `feedbackId` is null (not known yet). */
export interface FeedbackResult {
  feedbackId: string | null;
  eventId: string;
  score: 0 | 1;
  comment: string | null;
  createdAt: string;
}

/** Batching mode's settings; `batch: true` takes all the defaults. */
export interface BatchOptions {
  /** Send when this many events are queued (1–1000). Default 256. */
  maxBatchSize?: number | undefined;
  /** Send queued events at the latest this long after the oldest was queued. Default 1000 ms. */
  flushIntervalMs?: number | undefined;
  /** Most queued items (events and feedback); past it new ones are dropped. Default 10000. */
  maxQueueSize?: number | undefined;
  /**
   * Called when queued items are given up (refused, unreachable after the retries, or dropped
   * because the queue is full), with the error and how many items it cost.
   * Default: a `console.warn` line.
   */
  onError?: ((error: PhosphoError, count: number) => void) | undefined;
}

/** Counters of batching mode (all zero otherwise). */
export interface BatchStats {
  /** Waiting to be sent, or being sent. */
  queued: number;
  /** Accepted by the server. */
  sent: number;
  /** Refused at once because the queue was full. */
  dropped: number;
  /** Given up: refused by the server, or unreachable after the retries. */
  failed: number;
}

/** Constructor options. Explicit options win over the environment, which wins over defaults. */
export interface PhosphoOptions {
  /** `ph_…` key of the project. Default: `PHOSPHO_API_KEY`. */
  apiKey?: string | undefined;
  /** Server root, e.g. `https://phospho.example.com`. Default: `PHOSPHO_BASE_URL`, else `http://127.0.0.1:8000`. */
  baseUrl?: string | undefined;
  /**
   * Retries after the first try. Always retried: 408, 429, 503 and failures to connect. Events
   * (idempotent: they carry their id) are also retried on other 5xx and broken connections;
   * feedback is not, as it could be stored twice. Default 3.
   */
  maxRetries?: number | undefined;
  /** First backoff delay; doubles each retry, with jitter. Default 500 ms. */
  retryBaseDelayMs?: number | undefined;
  /** Longest backoff delay. Default 8000 ms. */
  retryMaxDelayMs?: number | undefined;
  /** A server's Retry-After replaces the backoff; longer than this, the SDK stops retrying. Default 60000 ms. */
  retryAfterMaxMs?: number | undefined;
  /** Per-try timeout. Default 10000 ms. */
  timeoutMs?: number | undefined;
  /** Largest body of one batch request (`logBatch`, batching mode). Default 4 MiB. */
  maxBatchBytes?: number | undefined;
  /** Queue events and send them to the batch endpoint (see `BatchOptions`). Default off. */
  batch?: boolean | BatchOptions | undefined;
}

/** What `sendFeedback` takes: a log result's `feedbackToken` instead of an API key. */
export interface SendFeedbackParams {
  /** The event's `feedbackToken` (`feedback_token` in the server's answer). */
  token: string;
  /** 1 = thumbs up, 0 = thumbs down. */
  score: 0 | 1;
  comment?: string | null | undefined;
  /** The phospho server's root, e.g. `https://phospho.example.com` (a browser has no environment). */
  baseUrl: string;
  /** Per-try timeout. Default 10000 ms. */
  timeoutMs?: number | undefined;
  /** Retries of answers that say "not processed, try again" (408, 429, 503). Default 2. */
  maxRetries?: number | undefined;
}
