/**
 * The optional event fields `tags`, `status` and `error`, checked locally by the server's rules,
 * so a bad value fails at the call instead of refusing its whole batch later.
 */

import { invalid } from "./errors.js";

export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 64;
export const MAX_ERROR_LENGTH = 4096;

/** Whether the LLM call succeeded; leave it out when unknown. */
export type EventStatus = "ok" | "error";

/**
 * The wire fields of `tags`, `status` and `error` (those given). `at` names a field in errors.
 * Tags go as given (the server drops repeats, keeping the first); an error without a status
 * means status "error" to the server; status "ok" with an error is refused.
 */
export function eventFields(
  at: (name: string) => string,
  tags: unknown,
  status: unknown,
  error: unknown,
): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags)) throw invalid(at("tags"), "must be an array of strings");
    if (tags.length > MAX_TAGS) throw invalid(at("tags"), `at most ${MAX_TAGS} tags (got ${tags.length})`);
    tags.forEach((tag: unknown, index: number) => {
      if (typeof tag !== "string" || tag.length < 1 || tag.length > MAX_TAG_LENGTH) {
        throw invalid(at(`tags[${index}]`), `must be a string of 1 to ${MAX_TAG_LENGTH} characters`);
      }
    });
    body.tags = tags;
  }
  if (status !== undefined && status !== null) {
    if (status !== "ok" && status !== "error") {
      throw invalid(at("status"), `must be "ok" or "error" (got ${JSON.stringify(status)})`);
    }
    body.status = status;
  }
  if (error !== undefined && error !== null) {
    if (typeof error !== "string" || error.length > MAX_ERROR_LENGTH) {
      throw invalid(at("error"), `must be a string of at most ${MAX_ERROR_LENGTH} characters`);
    }
    if (status === "ok") throw invalid(at("error"), 'must not be given with status "ok"');
    body.error = error;
  }
  return body;
}
