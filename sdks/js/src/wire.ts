/**
 * camelCase in, snake_case on the wire, and back. Events are checked locally the way the Python
 * SDK checks them (types, lengths, UUIDs, strict JSON), so a bad event fails at once instead of
 * poisoning a whole batch; value rules (e.g. a negative latency) stay the server's.
 * Metadata is passed through untouched.
 */

import { APIError, invalid } from "./errors.js";
import { eventFields } from "./fields.js";
import { uuid7 } from "./ids.js";
import type { FeedbackParams, FeedbackResult, LogEventParams, LogResult } from "./types.js";

export const EVENTS_PATH = "/api/v1/events";
export const BATCH_PATH = "/api/v1/events/batch";
const MAX_ID_LENGTH = 256;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

const EVENT_FIELDS: Record<keyof LogEventParams, string> = {
  input: "input",
  output: "output",
  sessionId: "session_id",
  userId: "user_id",
  metadata: "metadata",
  eventId: "event_id",
  tags: "tags",
  status: "status",
  error: "error",
};
const FEEDBACK_FIELDS = new Set<keyof FeedbackParams>(["eventId", "score", "comment"]);

/** One event, checked and encoded, with its final id and session. */
export interface EncodedEvent {
  eventId: string;
  sessionId: string | undefined;
  json: string;
  bytes: number;
}

function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function camel(snake: string): string {
  return snake.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function checkObject(field: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid(field, `must be an object (got ${kind(value)})`);
  }
}

function checkKeys(field: string, params: object, known: (key: string) => boolean): void {
  const unknown = Object.keys(params).filter((key) => !known(key));
  if (unknown.length > 0) {
    const hints = unknown.map((key) => (known(camel(key)) ? `${key} (use ${camel(key)})` : key));
    throw invalid(field, `unknown field(s) ${hints.join(", ")}`);
  }
}

function checkIdentifier(field: string, value: unknown): void {
  if (value === undefined || value === null) return;
  if (typeof value !== "string") throw invalid(field, `must be a string (got ${kind(value)})`);
  if (value.length < 1 || value.length > MAX_ID_LENGTH) {
    throw invalid(field, `must be 1 to ${MAX_ID_LENGTH} characters long`);
  }
  if (value.includes("\u0000")) throw invalid(field, "must not contain NUL characters");
}

/** A canonical (lower-case, hyphenated) UUID, or undefined when `value` is not one. */
function canonicalUuid(value: unknown): string | undefined {
  if (typeof value !== "string" || !UUID.test(value)) return undefined;
  const hex = value.replace(/-/g, "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function hasNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (Array.isArray(value)) return value.some(hasNul);
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).some(([key, item]) => key.includes("\u0000") || hasNul(item));
  }
  return false;
}

function strictJson(field: string, value: unknown): string {
  try {
    // JSON.stringify would quietly turn NaN and Infinity into null; the server refuses them.
    return JSON.stringify(value, (_, item: unknown) => {
      if (typeof item === "number" && !Number.isFinite(item)) throw new Error(`${item} is not JSON`);
      return item;
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw invalid(field, `must be JSON-serialisable without NaN/Infinity (${reason})`);
  }
}

/**
 * Check one event and encode it; its id is made here, before any try. `field` prefixes error
 * locations (e.g. "events[3]" for logBatch). `sessionDefault` fills a missing session id.
 */
export function encodeEvent(
  params: LogEventParams,
  field = "event",
  sessionDefault?: string,
): EncodedEvent {
  checkObject(field, params);
  checkKeys(field, params, (key) => Object.hasOwn(EVENT_FIELDS, key));
  const at = (name: string): string => (field === "event" ? name : `${field}.${name}`);
  for (const name of ["input", "output"] as const) {
    if (!(name in params)) throw invalid(at(name), "field required");
    if (typeof params[name] !== "string") {
      throw invalid(at(name), `must be a string (got ${kind(params[name])})`);
    }
  }
  checkIdentifier(at("sessionId"), params.sessionId);
  checkIdentifier(at("userId"), params.userId);
  let eventId = uuid7();
  if (params.eventId !== undefined && params.eventId !== null) {
    const canonical = canonicalUuid(params.eventId);
    if (!canonical) throw invalid(at("eventId"), "must be a UUID (leave it out and the SDK makes one)");
    eventId = canonical;
  }
  const sessionId = params.sessionId ?? sessionDefault;
  const body: Record<string, unknown> = { input: params.input, output: params.output };
  if (sessionId !== undefined && sessionId !== null) body.session_id = sessionId;
  if (params.userId !== undefined && params.userId !== null) body.user_id = params.userId;
  if (params.metadata !== undefined && params.metadata !== null) {
    checkObject(at("metadata"), params.metadata);
    body.metadata = params.metadata;
  }
  Object.assign(body, eventFields(at, params.tags, params.status, params.error));
  body.event_id = eventId;
  const json = strictJson(at("metadata"), body);
  // A cheap pre-check on the encoding; the walk rules out false positives (an escaped "\\u0000").
  if (json.includes("\\u0000")) {
    for (const [name, value] of Object.entries(body)) {
      if (hasNul(value)) throw invalid(at(camel(name)), "must not contain NUL (\\u0000) characters");
    }
  }
  return { eventId, sessionId: sessionId ?? undefined, json, bytes: Buffer.byteLength(json) };
}

/** Check a feedback; returns its URL path and JSON body. */
export function encodeFeedback(params: FeedbackParams): { path: string; eventId: string; json: string } {
  checkObject("feedback", params);
  checkKeys("feedback", params, (key) => FEEDBACK_FIELDS.has(key as keyof FeedbackParams));
  const eventId = canonicalUuid(params.eventId);
  if (!eventId) {
    throw invalid("eventId", `must be the UUID of a logged event (got ${JSON.stringify(params.eventId)})`);
  }
  if (params.score !== 0 && params.score !== 1) {
    throw invalid("score", `must be the integer 0 or 1 (got ${JSON.stringify(params.score)})`);
  }
  const body: Record<string, unknown> = { score: params.score };
  if (params.comment !== undefined && params.comment !== null) {
    if (typeof params.comment !== "string") {
      throw invalid("comment", `must be a string (got ${kind(params.comment)})`);
    }
    body.comment = params.comment;
  }
  return { path: `${EVENTS_PATH}/${eventId}/feedback`, eventId, json: JSON.stringify(body) };
}

/** Split encoded events into request-sized groups (count and byte limits). */
export function groups(events: EncodedEvent[], maxEvents: number, maxBytes: number): EncodedEvent[][] {
  const result: EncodedEvent[][] = [];
  let current: EncodedEvent[] = [];
  let size = 0;
  for (const event of events) {
    if (current.length > 0 && (current.length >= maxEvents || size + event.bytes + 1 > maxBytes)) {
      result.push(current);
      current = [];
      size = 0;
    }
    current.push(event);
    size += event.bytes + 1;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** The batch endpoint's body for already-encoded events. */
export function batchBody(events: EncodedEvent[]): string {
  return `{"events":[${events.map((event) => event.json).join(",")}]}`;
}

function field(data: unknown, name: string): unknown {
  if (typeof data !== "object" || data === null || !(name in data)) {
    throw new APIError({ message: `unexpected answer from the server (no "${name}")`, body: data });
  }
  return (data as Record<string, unknown>)[name];
}

/** `{event_id, session_id, created_at, feedback_token}` → `LogResult`. */
export function logResult(data: unknown): LogResult {
  const token = (data as { feedback_token?: unknown } | null)?.feedback_token;
  return {
    eventId: field(data, "event_id") as string,
    sessionId: field(data, "session_id") as string,
    createdAt: field(data, "created_at") as string,
    feedbackToken: typeof token === "string" ? token : null,
  };
}

/** The batch endpoint's `{results: [...]}` → `LogResult[]`, checked to match the request. */
export function logResults(data: unknown, expected: number): LogResult[] {
  const results = field(data, "results");
  if (!Array.isArray(results) || results.length !== expected) {
    throw new APIError({ message: `the server returned a wrong number of results`, body: data });
  }
  return results.map(logResult);
}

/** The feedback endpoint's answer → `FeedbackResult`. */
export function feedbackResult(data: unknown): FeedbackResult {
  return {
    feedbackId: field(data, "feedback_id") as string,
    eventId: field(data, "event_id") as string,
    score: field(data, "score") as 0 | 1,
    comment: (field(data, "comment") as string | null) ?? null,
    createdAt: field(data, "created_at") as string,
  };
}
