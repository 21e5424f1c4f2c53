"""OTLP ingest benchmark: `POST /v1/traces` against `POST /api/v1/events/batch` (issue 18).

Run: .venv/bin/python -m bench.otlp [--rounds 5] [--exports 32] [--clients 4] [--quick]
     (about a minute with the defaults)

What it measures, precisely:
- One `phospho serve` with a fresh embedded SQLite database (synchronous=FULL: a 2xx is on
  disk), default settings, pinned to core 0 with taskset; this process (the clients) on core 1.
- A round: `--clients` threads, each one keep-alive HTTP/1.1 connection, post their share of
  `--exports` bodies back to back (closed loop). OTLP: 512-span protobuf exports, half of them
  LLM spans (bench/otlp/payload.py). Every export has fresh trace/span ids (a re-sent one would
  store nothing, by design). A 429/503 is retried after its Retry-After (at most 1 s), as OTLP
  exporters do, and counted.
- The reference, "the same events posted to /api/v1/events/batch", means the same stored rows:
  the "same rows" twin of each export is one batch body of the 256 event bodies the server's
  own mapping (app.services.otlp, run here, off the clock) makes of it: same text, metadata
  (`otel`, `messages`), session, user, tags, status, and a client-chosen event_id as OTLP's
  (so both routes pay the retry check). Only the ids' values differ (derived for another
  project number, so a twin is never a retry of its OTLP export, and fresh every round). The
  ratio to it, the target, is then what OTLP costs over REST for the same rows: decoding,
  mapping and the events' own time. The "minimal" twin (same text, session, user, model,
  tokens, latency; ids and service.name only in metadata: what a REST client typically sends)
  is measured too, for information.
- A round's bodies are encoded just before it, off the clock (its last export's spans end
  0.5-2 s before that, each export before it 40 ms earlier, as an exporter's successive
  exports carry successive spans: a few seconds old when posted, as a BatchSpanProcessor's
  5 s delay makes them).
- events/s = events stored by the round (counted in the database before and after, and
  required to equal what was posted) / wall time from the first post to the last answer.
- Rounds come in sets of one per route (OTLP, same rows, minimal; the order rotated every set)
  after a warm-up set, so the routes meet the same database size and machine state; the
  figures are medians over the sets, and each ratio is the median of the per-set ratios.
- Targets (issue 18): OTLP >= 0.7x the batch route's events/s, and >= 5,000 LLM spans stored
  per second. Not a test: figures depend on the machine and its load (printed at the end).
"""

import sys
from pathlib import Path


def _main() -> int:
    # Run as a directory, only bench/otlp is on sys.path: add the repo root for `bench`.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.otlp.cli import main

    return main()


if __name__ == "__main__":
    sys.exit(_main())
