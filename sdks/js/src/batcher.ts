/**
 * Batching mode: `log()` queues the event and resolves at once; the queue is sent to
 * `POST /api/v1/events/batch` when `maxBatchSize` events or `maxBatchBytes` of JSON are waiting,
 * or `flushIntervalMs` after the oldest was queued. Feedback is queued too, behind the events
 * logged before it. One request is in flight at a time, so the server sees everything in the
 * order it was logged.
 *
 * Every event is encoded (and given its id) when queued, so a retried batch carries the same
 * bytes and the server stores each event once. The batch endpoint is all-or-nothing: a 422 that
 * names events drops just those and resends the rest; a 413 splits the batch in halves.
 * Nothing here throws at the caller: what is given up is counted (`stats()`), reported to
 * `onError`, and makes `flush()` resolve to false.
 */

import type { BatchConfig } from "./config.js";
import { APIError, PhosphoError, ValidationError } from "./errors.js";
import type { BatchStats } from "./types.js";
import { type EncodedEvent, groups } from "./wire.js";

/** How the batcher reaches the server (the client's transport, with its retry policy). */
export interface Senders {
  events(events: EncodedEvent[]): Promise<unknown>;
  feedback(path: string, json: string): Promise<unknown>;
}

/** A queued item: one event, or one feedback. */
export type Item =
  | { kind: "event"; event: EncodedEvent }
  | { kind: "feedback"; path: string; json: string };

// Batchers with work left, flushed when the event loop runs dry (the process is about to exit
// on its own), so a script that logs in batching mode and simply ends loses nothing.
const busy = new Set<Batcher>();
let exitHookInstalled = false;

function watchForExit(batcher: Batcher): void {
  busy.add(batcher);
  if (exitHookInstalled || typeof process !== "object" || typeof process.on !== "function") return;
  exitHookInstalled = true;
  process.on("beforeExit", () => {
    for (const batcher of busy) void batcher.flush();
  });
}

function toPhosphoError(error: unknown): PhosphoError {
  if (error instanceof PhosphoError) return error;
  return new PhosphoError(`unexpected error while sending: ${String(error)}`, { cause: error });
}

/** Indexes of the events a batch 422 refuses (`loc: ["body", "events", i, …]`). */
function refusedIndexes(error: APIError, size: number): Set<number> {
  const refused = new Set<number>();
  for (const item of error.errors) {
    const loc = Array.isArray(item?.loc) ? item.loc : [];
    const index = loc[2];
    if (loc[0] === "body" && loc[1] === "events" && typeof index === "number" && index < size) {
      refused.add(index);
    }
  }
  return refused;
}

/** The queue of one client in batching mode. */
export class Batcher {
  readonly #senders: Senders;
  readonly #config: BatchConfig;
  #queue: Item[] = [];
  #queuedEvents = 0;
  #queuedBytes = 0;
  #inFlight = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #dropping = false;
  #sent = 0;
  #dropped = 0;
  #failed = 0;

  constructor(senders: Senders, config: BatchConfig) {
    this.#senders = senders;
    this.#config = config;
  }

  /** Queue an item; false when the queue was full and the item was dropped. */
  put(item: Item): boolean {
    if (this.#queue.length + this.#inFlight >= this.#config.maxQueueSize) {
      this.#dropped += 1;
      if (!this.#dropping) {
        this.#dropping = true; // report once per overflow, not once per dropped item
        this.#report(
          new PhosphoError(`the queue is full (${this.#config.maxQueueSize} items); dropping`),
          1,
        );
      }
      return false;
    }
    this.#dropping = false;
    if (item.kind === "event") {
      // Send what is queued first if this event would take the batch past maxBatchBytes.
      const bytes = item.event.bytes + 1;
      if (this.#queuedEvents > 0 && this.#queuedBytes + bytes > this.#config.maxBatchBytes) {
        this.#dispatch();
      }
      this.#queuedEvents += 1;
      this.#queuedBytes += bytes;
    }
    this.#queue.push(item);
    watchForExit(this);
    if (
      this.#queuedEvents >= this.#config.maxBatchSize ||
      this.#queuedBytes >= this.#config.maxBatchBytes
    ) {
      this.#dispatch();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#dispatch(), this.#config.flushIntervalMs);
      // The timer alone does not keep the process alive; the exit hook sends what is left.
      this.#timer.unref?.();
    }
    return true;
  }

  /**
   * Send everything queued now and wait (at most `timeoutMs`) until it is done. Resolves to true
   * when all of it was accepted by the server in time; never rejects.
   */
  async flush(timeoutMs?: number): Promise<boolean> {
    const failedBefore = this.#failed;
    this.#dispatch();
    const done = this.#chain.then(() => true);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<boolean>((resolve) => {
      if (timeoutMs === undefined) return;
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const finished = await Promise.race([done, expired]);
    clearTimeout(timer);
    return finished && this.#failed === failedBefore;
  }

  /** Counters: queued (or in flight), sent, dropped (queue full), failed (given up). */
  stats(): BatchStats {
    return {
      queued: this.#queue.length + this.#inFlight,
      sent: this.#sent,
      dropped: this.#dropped,
      failed: this.#failed,
    };
  }

  #dispatch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    const items = this.#queue;
    this.#queue = [];
    this.#queuedEvents = 0;
    this.#queuedBytes = 0;
    this.#inFlight += items.length;
    this.#chain = this.#chain.then(() => this.#sendInOrder(items));
  }

  /** Send items in order: runs of events as batches, each feedback on its own. */
  async #sendInOrder(items: Item[]): Promise<void> {
    let run: EncodedEvent[] = [];
    const sendRun = async (): Promise<void> => {
      for (const group of groups(run, this.#config.maxBatchSize, this.#config.maxBatchBytes)) {
        await this.#sendEvents(group);
        this.#inFlight -= group.length;
      }
      run = [];
    };
    for (const item of items) {
      if (item.kind === "event") {
        run.push(item.event);
        continue;
      }
      await sendRun();
      await this.#sendFeedback(item.path, item.json);
      this.#inFlight -= 1;
    }
    await sendRun();
    if (this.#queue.length === 0 && this.#inFlight === 0) busy.delete(this);
  }

  async #sendEvents(events: EncodedEvent[]): Promise<void> {
    let pending = events;
    while (pending.length > 0) {
      try {
        await this.#senders.events(pending);
        this.#sent += pending.length;
        return;
      } catch (caught) {
        const error = toPhosphoError(caught);
        if (error instanceof ValidationError && error.status === 413 && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          await this.#sendEvents(pending.slice(0, half));
          await this.#sendEvents(pending.slice(half));
          return;
        }
        const refused =
          error instanceof ValidationError && error.status === 422
            ? refusedIndexes(error, pending.length)
            : new Set<number>();
        if (refused.size === 0) {
          this.#giveUp(pending.length, error);
          return;
        }
        // All-or-nothing: drop the refused events, resend the others.
        this.#giveUp(refused.size, error);
        pending = pending.filter((_, index) => !refused.has(index));
      }
    }
  }

  async #sendFeedback(path: string, json: string): Promise<void> {
    try {
      await this.#senders.feedback(path, json);
      this.#sent += 1;
    } catch (caught) {
      this.#giveUp(1, toPhosphoError(caught));
    }
  }

  #giveUp(count: number, error: PhosphoError): void {
    this.#failed += count;
    this.#report(error, count);
  }

  #report(error: PhosphoError, count: number): void {
    try {
      this.#config.onError(error, count);
    } catch {
      // A throwing callback must not stop the queue.
    }
  }
}
