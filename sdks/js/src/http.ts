/**
 * HTTP with retries, on the global `fetch` (Node ≥ 18). The same policy as the Python SDK:
 *
 * - 408, 429 and 503 say "not processed, try again": always retried; so are failures to
 *   connect (nothing was sent).
 * - Other 5xx and connections broken after sending may hide a stored write: retried only for
 *   idempotent requests. Events are (each carries its `event_id`, chosen before the first try,
 *   and the server answers a repeat with the original result); feedback is not.
 * - Retry n (0-based) waits a random time in [d/2, d], d = min(retryMaxDelayMs, base × 2^n).
 *   A Retry-After replaces that delay; longer than `retryAfterMaxMs`, the SDK stops retrying.
 */

import type { RetryConfig } from "./config.js";
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  type ErrorItem,
  RateLimitError,
  errorClassFor,
} from "./errors.js";
import { VERSION } from "./version.js";

const RETRY_ALWAYS = new Set([408, 429, 503]);
// Error codes that mean the request never left: safe to retry anything.
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Whether an error answer is worth another try. */
export function isRetryableStatus(status: number, idempotent: boolean): boolean {
  return RETRY_ALWAYS.has(status) || (idempotent && status >= 500 && status <= 599);
}

/** Milliseconds from a Retry-After header (delta-seconds or an HTTP date); undefined if absent. */
export function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value || !value.trim()) return undefined;
  const seconds = Number(value.trim());
  const ms = Number.isNaN(seconds) ? Date.parse(value) - Date.now() : seconds * 1000;
  if (!Number.isFinite(ms)) return undefined;
  return Math.max(0, ms);
}

/** Milliseconds to wait before retry number `attempt + 1`, or undefined to give up. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  config: RetryConfig,
): number | undefined {
  if (attempt >= config.maxRetries) return undefined;
  if (retryAfterMs !== undefined) {
    return retryAfterMs <= config.retryAfterMaxMs ? retryAfterMs : undefined;
  }
  const ceiling = Math.min(config.retryMaxDelayMs, config.retryBaseDelayMs * 2 ** attempt);
  return ceiling / 2 + (Math.random() * ceiling) / 2;
}

function headerRecord(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name] = value;
  });
  return record;
}

/** The typed error for an error answer, carrying the server's sentence. */
export function errorFromResponse(
  status: number,
  text: string,
  headers: Headers,
  url: string,
): APIError {
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): described below.
  }
  const fields = (typeof body === "object" && body !== null ? body : {}) as {
    detail?: unknown;
    code?: unknown;
    errors?: unknown;
  };
  let message: string;
  if (typeof fields.detail === "string") {
    message = fields.detail;
  } else if (status >= 300 && status <= 399) {
    // Redirects are not followed (a POST must not turn into a GET): point at the right URL.
    const location = headers.get("location") ?? "elsewhere";
    message = `HTTP ${status} from ${url}: redirected to ${location}; is baseUrl the server's address?`;
  } else {
    const snippet = (typeof body === "string" ? body : JSON.stringify(body)).trim().slice(0, 200);
    message = `HTTP ${status} from ${url}${snippet ? `: ${snippet}` : ""}`;
  }
  const init = {
    message,
    status,
    code: typeof fields.code === "string" ? fields.code : undefined,
    errors: Array.isArray(fields.errors) ? (fields.errors as ErrorItem[]) : undefined,
    headers: headerRecord(headers),
    body,
  };
  if (status === 429) {
    return new RateLimitError({ ...init, retryAfterMs: parseRetryAfter(headers.get("retry-after")) });
  }
  return new (errorClassFor(status))(init);
}

function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The typed error for a request that got no HTTP answer; `sent`: it may have reached the server. */
function errorFromException(error: unknown, url: string): { error: APIConnectionError; sent: boolean } {
  if ((error as { name?: unknown } | null)?.name === "TimeoutError") {
    return { error: new APITimeoutError({ message: `request to ${url} timed out`, cause: error }), sent: true };
  }
  const code = errorCode(error);
  if (code !== undefined && NOT_SENT.has(code)) {
    const message =
      `could not connect to the phospho server at ${url} (${code}); ` +
      "check baseUrl / PHOSPHO_BASE_URL and that the server is running";
    return { error: new APIConnectionError({ message, cause: error }), sent: false };
  }
  const detail = code ?? (error instanceof Error ? error.message : String(error));
  const message = `the connection failed during the request to ${url} (${detail})`;
  return { error: new APIConnectionError({ message, cause: error }), sent: true };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends authenticated JSON requests to one server, retrying what is safe to retry. */
export class Transport {
  readonly #baseUrl: string;
  readonly #apiKey: string;
  readonly #config: RetryConfig;

  constructor(baseUrl: string, apiKey: string, config: RetryConfig) {
    this.#baseUrl = baseUrl;
    this.#apiKey = apiKey;
    this.#config = config;
  }

  /** POST a JSON body (serialised once, so every try sends the same bytes); parse the answer. */
  async post(path: string, body: string, idempotent: boolean): Promise<unknown> {
    const url = this.#baseUrl + path;
    for (let attempt = 0; ; attempt += 1) {
      let failure: APIError;
      let retryable: boolean;
      try {
        return await this.#once(url, body);
      } catch (caught) {
        if (caught instanceof APIError && caught.status !== undefined) {
          failure = caught;
          retryable = isRetryableStatus(caught.status, idempotent);
        } else {
          const { error, sent } = errorFromException(caught, url);
          failure = error;
          retryable = idempotent || !sent;
        }
      }
      const retryAfter = parseRetryAfter(failure.headers["retry-after"]);
      const delay = retryable ? retryDelay(attempt, retryAfter, this.#config) : undefined;
      if (delay === undefined) throw failure;
      await sleep(delay);
    }
  }

  async #once(url: string, body: string): Promise<unknown> {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${this.#apiKey}`,
        "content-type": "application/json",
        accept: "application/json",
        "user-agent": `phospho-sdk-js/${VERSION}`,
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(this.#config.timeoutMs),
    });
    const text = await response.text();
    if (response.status < 200 || response.status > 299) {
      throw errorFromResponse(response.status, text, response.headers, url);
    }
    try {
      return JSON.parse(text);
    } catch {
      // A 2xx that is not JSON: not the phospho server (wrong baseUrl?). Not retried.
      throw new APIError({
        message: `the server at ${url} did not answer with JSON; is baseUrl the phospho server?`,
        status: response.status,
        headers: headerRecord(response.headers),
        body: text,
      });
    }
  }
}
