/** Resolve constructor options: explicit option > environment variable > default. */

import { ConfigurationError, type PhosphoError } from "./errors.js";
import type { BatchOptions, PhosphoOptions } from "./types.js";

export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
/** The server's batch endpoint takes at most this many events. */
export const MAX_BATCH_EVENTS = 1000;

export const DEFAULTS = {
  maxRetries: 3,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 8000,
  retryAfterMaxMs: 60_000,
  timeoutMs: 10_000,
  maxBatchBytes: 4 * 1024 * 1024,
  maxBatchSize: 256,
  flushIntervalMs: 1000,
  maxQueueSize: 10_000,
  flushTimeoutMs: 10_000,
} as const;

/** Retry and timeout settings, all resolved. */
export interface RetryConfig {
  maxRetries: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  retryAfterMaxMs: number;
  timeoutMs: number;
}

/** Batching settings, all resolved. */
export interface BatchConfig {
  maxBatchSize: number;
  maxBatchBytes: number;
  flushIntervalMs: number;
  maxQueueSize: number;
  onError: (error: PhosphoError, count: number) => void;
}

/** Everything the client needs, resolved once at construction. */
export interface Config extends RetryConfig {
  apiKey: string;
  baseUrl: string;
  maxBatchBytes: number;
  batch: BatchConfig | null;
}

/** Read `PHOSPHO_<name>`; an empty value counts as unset. */
function fromEnv(name: string): string | undefined {
  const env = typeof process === "object" && process !== null ? process.env : undefined;
  const value = env?.[`PHOSPHO_${name}`]?.trim();
  return value ? value : undefined;
}

function numberOption(
  name: string,
  value: number | undefined,
  fallback: number,
  { min = 0, max = Infinity, integer = false } = {},
): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === "number" &&
    !Number.isNaN(value) &&
    value >= min &&
    value <= max &&
    (!integer || Number.isInteger(value));
  if (!ok) {
    const range = max === Infinity ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigurationError(
      `${name} must be ${integer ? "an integer" : "a number"} ${range} (got ${String(value)})`,
    );
  }
  return value;
}

function warn(error: PhosphoError, count: number): void {
  console.warn(`phospho: ${count} item(s) could not be sent and were dropped: ${error.message}`);
}

function resolveBatch(batch: PhosphoOptions["batch"], maxBatchBytes: number): BatchConfig | null {
  if (!batch) return null;
  const given: BatchOptions = batch === true ? {} : batch;
  if (given.onError !== undefined && typeof given.onError !== "function") {
    throw new ConfigurationError("batch.onError must be a function");
  }
  return {
    maxBatchSize: numberOption("batch.maxBatchSize", given.maxBatchSize, DEFAULTS.maxBatchSize, {
      min: 1,
      max: MAX_BATCH_EVENTS,
      integer: true,
    }),
    maxBatchBytes,
    flushIntervalMs: numberOption(
      "batch.flushIntervalMs",
      given.flushIntervalMs,
      DEFAULTS.flushIntervalMs,
    ),
    maxQueueSize: numberOption("batch.maxQueueSize", given.maxQueueSize, DEFAULTS.maxQueueSize, {
      min: 1,
      integer: true,
    }),
    onError: given.onError ?? warn,
  };
}

function resolveBaseUrl(option: string | undefined): string {
  const url = (option ?? fromEnv("BASE_URL") ?? DEFAULT_BASE_URL).trim().replace(/\/+$/, "");
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !["http:", "https:"].includes(parsed.protocol) || !parsed.host) {
    throw new ConfigurationError(
      `base URL must look like https://phospho.example.com (got ${JSON.stringify(url)})`,
    );
  }
  return url;
}

/** Resolve the options; throws `ConfigurationError` when something is missing or wrong. */
export function resolveConfig(options: PhosphoOptions = {}): Config {
  if (typeof options !== "object" || options === null) {
    throw new ConfigurationError("new Phospho(options): options must be an object");
  }
  const apiKey = (options.apiKey ?? fromEnv("API_KEY"))?.trim();
  if (!apiKey) {
    throw new ConfigurationError(
      'no API key: pass new Phospho({ apiKey: "ph_…" }) or set PHOSPHO_API_KEY',
    );
  }
  const maxBatchBytes = numberOption("maxBatchBytes", options.maxBatchBytes, DEFAULTS.maxBatchBytes, {
    min: 1024,
    integer: true,
  });
  return {
    apiKey,
    baseUrl: resolveBaseUrl(options.baseUrl),
    maxRetries: numberOption("maxRetries", options.maxRetries, DEFAULTS.maxRetries, {
      integer: true,
    }),
    retryBaseDelayMs: numberOption(
      "retryBaseDelayMs",
      options.retryBaseDelayMs,
      DEFAULTS.retryBaseDelayMs,
    ),
    retryMaxDelayMs: numberOption(
      "retryMaxDelayMs",
      options.retryMaxDelayMs,
      DEFAULTS.retryMaxDelayMs,
    ),
    retryAfterMaxMs: numberOption(
      "retryAfterMaxMs",
      options.retryAfterMaxMs,
      DEFAULTS.retryAfterMaxMs,
    ),
    timeoutMs: numberOption("timeoutMs", options.timeoutMs, DEFAULTS.timeoutMs, { min: 1 }),
    maxBatchBytes,
    batch: resolveBatch(options.batch, maxBatchBytes),
  };
}
