"""OTLP ingest benchmark: `POST /v1/traces` against `POST /api/v1/events/batch` (issue 18).

Run: .venv/bin/python -m bench.otlp [--rounds 5] [--exports 32] [--clients 4] [--quick]
     (about a minute with the defaults)

What it measures, precisely:
- One `phospho serve` with a fresh embedded SQLite database (synchronous=FULL: a 2xx is on
  disk), default settings, pinned to core 0 with taskset; this process (the clients) on core 1.
- A round: `--clients` threads, each one keep-alive HTTP/1.1 connection, post their share of
  `--exports` bodies back to back (closed loop). OTLP: 512-span protobuf exports, half of them
  LLM spans (bench/otlp/payload.py). Batch: the same LLM spans as REST events, one batch body
  per export (256 events), same text, session, user, model, tokens and latency. A round's
  bodies are encoded just before it, off the clock (its spans end 0.5-2 s before that, so they
  are a few seconds old when posted, as a BatchSpanProcessor's 5 s delay makes them). Every
  export has fresh trace/span ids (a re-sent one would store nothing, by design). A 429/503 is
  retried after its Retry-After (at most 1 s), as OTLP exporters do, and counted.
- events/s = events stored by the round (counted in the database before and after, and
  required to equal what was posted) / wall time from the first post to the last answer.
- Rounds alternate OTLP and batch in pairs (order swapped every pair) after a warm-up pair, so
  both routes meet the same database size and machine state; the figures are medians over the
  pairs, and the ratio is the median of the per-pair ratios.
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
