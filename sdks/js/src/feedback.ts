/**
 * `sendFeedback`: a thumbs up or down from a web page, with the event's feedback token instead
 * of an API key (`POST /api/v1/feedback`). Browser-safe: it needs only `fetch`, and this module
 * imports nothing of Node nor the key-bearing client, so a bundler (or a page importing
 * `phospho-sdk/feedback` as a module) takes just this.
 *
 * The flow: your server logs the event with its key (`phospho.log`), hands the result's
 * `feedbackToken` to the page, and the page calls `sendFeedback`. The phospho server must list
 * the page's origin in `PHOSPHO_CORS_ORIGINS`.
 */

import { APIConnectionError, APITimeoutError, ConfigurationError, invalid } from "./errors.js";
import { errorFromResponse, isRetryableStatus, parseRetryAfter, retryDelay } from "./http.js";
import type { FeedbackResult, SendFeedbackParams } from "./types.js";

export const FEEDBACK_PATH = "/api/v1/feedback";
const KNOWN = new Set(["token", "score", "comment", "baseUrl", "timeoutMs", "maxRetries"]);
const RETRY = { retryBaseDelayMs: 500, retryMaxDelayMs: 4000, retryAfterMaxMs: 30_000 };

function baseUrlOf(value: unknown): string {
  if (typeof value !== "string" || !/^https?:\/\/[^/?#]+/i.test(value.trim())) {
    throw new ConfigurationError(
      `baseUrl must be the phospho server's http(s) URL, e.g. https://phospho.example.com (got ${JSON.stringify(value)})`,
    );
  }
  return value.trim().replace(/\/+$/, "");
}

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new ConfigurationError(`${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** Check the parameters; the request's URL, JSON body and retry settings. */
function encode(params: SendFeedbackParams): { url: string; json: string; timeoutMs: number; maxRetries: number } {
  if (typeof params !== "object" || params === null) throw invalid("feedback", "must be an object");
  const unknown = Object.keys(params).filter((key) => !KNOWN.has(key));
  if (unknown.length > 0) throw invalid("feedback", `unknown field(s) ${unknown.join(", ")}`);
  const url = baseUrlOf(params.baseUrl) + FEEDBACK_PATH;
  if (typeof params.token !== "string" || params.token.length === 0) {
    throw invalid("token", "must be the feedbackToken of a logged event (a string)");
  }
  if (params.score !== 0 && params.score !== 1) {
    throw invalid("score", `must be the integer 0 or 1 (got ${JSON.stringify(params.score)})`);
  }
  const body: Record<string, unknown> = { token: params.token, score: params.score };
  if (params.comment !== undefined && params.comment !== null) {
    if (typeof params.comment !== "string") throw invalid("comment", "must be a string");
    body.comment = params.comment;
  }
  const timeoutMs = count("timeoutMs", params.timeoutMs, 10_000);
  return { url, json: JSON.stringify(body), timeoutMs, maxRetries: count("maxRetries", params.maxRetries, 2) };
}

/**
 * Send a thumbs up (1) or down (0) on the event `token` names; resolves to the stored feedback.
 * No API key: the token is the permission, for that one event, until it expires. Rejects with
 * `AuthenticationError` (invalid or expired token), `ValidationError`, `RateLimitError`,
 * `APIError` (e.g. 403: the page's origin is not listed on the server) or `APIConnectionError`
 * (no answer: also what a browser reports when CORS refuses the request). Retried only on 408,
 * 429 and 503, which say nothing was stored.
 */
export async function sendFeedback(params: SendFeedbackParams): Promise<FeedbackResult> {
  const { url, json, timeoutMs, maxRetries } = encode(params);
  for (let attempt = 0; ; attempt += 1) {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        // Only a CORS-safelisted header besides Content-Type: the preflight asks for nothing else.
        headers: { "content-type": "application/json", accept: "application/json" },
        body: json,
        credentials: "omit",
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === "TimeoutError") {
        throw new APITimeoutError({ message: `request to ${url} timed out`, cause: error });
      }
      const message =
        `no answer from the phospho server at ${url}: unreachable, or the browser refused the ` +
        "request (is this page's origin in the server's PHOSPHO_CORS_ORIGINS?)";
      throw new APIConnectionError({ message, cause: error });
    }
    const text = await response.text();
    if (response.status >= 200 && response.status <= 299) {
      const data = JSON.parse(text) as Record<string, unknown>;
      return {
        feedbackId: data.feedback_id as string,
        eventId: data.event_id as string,
        score: data.score as 0 | 1,
        comment: (data.comment as string | null) ?? null,
        createdAt: data.created_at as string,
      };
    }
    const retryAfter = parseRetryAfter(response.headers.get("retry-after"));
    const delay = isRetryableStatus(response.status, false)
      ? retryDelay(attempt, retryAfter, { ...RETRY, maxRetries, timeoutMs })
      : undefined;
    if (delay === undefined) throw errorFromResponse(response.status, text, response.headers, url);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
