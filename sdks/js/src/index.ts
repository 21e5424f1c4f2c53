/** phospho-sdk: log LLM events and user feedback to a phospho server. */

export { Phospho } from "./client.js";
export { DEFAULT_BASE_URL } from "./config.js";
export { FEEDBACK_PATH, sendFeedback } from "./feedback.js";
export {
  APIConnectionError,
  APIError,
  APITimeoutError,
  AuthenticationError,
  ConfigurationError,
  NotFoundError,
  PhosphoError,
  RateLimitError,
  ValidationError,
} from "./errors.js";
export type { APIErrorInit, ErrorItem } from "./errors.js";
export type { EventStatus } from "./fields.js";
export type {
  BatchOptions,
  BatchStats,
  FeedbackParams,
  FeedbackResult,
  LogEventParams,
  LogResult,
  Metadata,
  PhosphoOptions,
  SendFeedbackParams,
} from "./types.js";
export { VERSION } from "./version.js";
