/**
 * The SDK's errors, named and arranged like the Python SDK's:
 *
 * PhosphoError
 * ├── ConfigurationError      no API key, bad base URL, bad option
 * └── APIError                a call to the server failed (`status` undefined: no HTTP answer)
 *     ├── APIConnectionError  no HTTP answer (refused, reset, DNS); retries exhausted
 *     │   └── APITimeoutError
 *     ├── AuthenticationError 401: missing, unknown or revoked API key
 *     ├── NotFoundError       404: e.g. feedback on an unknown event
 *     ├── ValidationError     400 / 413 / 422 (or refused locally before sending)
 *     └── RateLimitError      429 after the retries
 */

/** One located problem, as the server sends it in a 422 (`loc` names the field). */
export interface ErrorItem {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/** Base class of every error the SDK throws on purpose. */
export class PhosphoError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The SDK is configured wrongly: no API key, a malformed base URL, an invalid option. */
export class ConfigurationError extends PhosphoError {}

/** What an `APIError` is made of. */
export interface APIErrorInit {
  /** The server's human sentence (`detail`), or what went wrong without an answer. */
  message: string;
  /** HTTP status; undefined when no answer arrived (or the request was refused locally). */
  status?: number | undefined;
  /** The server's machine-readable code (e.g. "invalid", "unauthorized"), when it sent one. */
  code?: string | undefined;
  errors?: ErrorItem[] | undefined;
  /** Lower-cased response headers. */
  headers?: Record<string, string> | undefined;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  body?: unknown;
  cause?: unknown;
}

/** A request to the server failed; `status` says how (undefined: no HTTP answer). */
export class APIError extends PhosphoError {
  /** HTTP status, or undefined when no answer arrived. */
  readonly status: number | undefined;
  /** The server's machine-readable error code, when it sent one. */
  readonly code: string | undefined;
  /** Located problems (422 answers and local checks); empty when there are none. */
  readonly errors: ErrorItem[];
  /** Lower-cased response headers (empty without an answer). */
  readonly headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(init: APIErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.errors = init.errors ?? [];
    this.headers = init.headers ?? {};
    this.body = init.body;
  }
}

/** The server could not be reached, or the connection broke before an answer arrived. */
export class APIConnectionError extends APIError {}

/** No answer within `timeoutMs`, even after the retries. */
export class APITimeoutError extends APIConnectionError {}

/** 401: the API key is missing, malformed, unknown or revoked. */
export class AuthenticationError extends APIError {}

/** 404: the event does not exist or belongs to another project. */
export class NotFoundError extends APIError {}

/**
 * The request was refused as invalid (400, 413, 422), or locally before it was sent. `message`
 * is the server's sentence (e.g. "body.metadata.latencyMs: must be a non-negative number").
 */
export class ValidationError extends APIError {}

/** 429: too many requests, still refused after the retries. */
export class RateLimitError extends APIError {
  /** The server's Retry-After in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(init: APIErrorInit & { retryAfterMs?: number | undefined }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** The error class for an HTTP status. */
export function errorClassFor(status: number): typeof APIError {
  switch (status) {
    case 400:
    case 413:
    case 422:
      return ValidationError;
    case 401:
      return AuthenticationError;
    case 404:
      return NotFoundError;
    case 429:
      return RateLimitError;
    default:
      return APIError;
  }
}

/** A local refusal: `field: message`, located like the server's errors. */
export function invalid(field: string, message: string): ValidationError {
  return new ValidationError({
    message: `${field}: ${message}`,
    code: "invalid",
    errors: [{ loc: [field], msg: message, type: "value_error" }],
  });
}
