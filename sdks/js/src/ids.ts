/** Ids made on the client: time-ordered UUIDv7 event ids, `sess_…` session ids, timestamps. */

import { randomBytes } from "node:crypto";

let lastMs = 0;
let counter = 0;

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, 62 random bits.
 * Time-ordered like the ids the server makes, which keeps its primary-key index compact; the
 * per-millisecond counter keeps events logged in the same millisecond in the order logged.
 */
export function uuid7(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    counter += 1;
    if (counter > 0xfff) {
      // Counter exhausted: borrow the next millisecond.
      lastMs += 1;
      counter = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    counter = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A session id in the `sess_…` form the server gives events sent without one. */
export function newSessionId(): string {
  return `sess_${randomBytes(12).toString("hex")}`;
}

/** The client's clock, ISO 8601 UTC. */
export function nowIso(): string {
  return new Date().toISOString();
}
