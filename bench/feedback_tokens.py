"""`python -m bench.feedback_tokens`: what a feedback token costs, in-process (no server).

Per token, medians of `--reps` interleaved rounds of `--count` calls each:
- sign (`FeedbackTokens.sign`, what every logged event's answer now pays) and verify;
- the answer of one event (`event_body`) with its token signed, against the same answer's
  JSON alone (orjson), the share the token adds to building an answer;
- references measured in the same rounds: one bare `hmac.digest` (HMAC-SHA256) over the same
  bytes, and, when `itsdangerous` is importable (it is not a dependency), its
  `URLSafeTimedSerializer` dumps and loads of the same fields.
"""

from __future__ import annotations

import argparse
import hmac
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from app.api.responses import event_body
from app.services.feedback_tokens import FeedbackTokens
from app.services.ingest_jobs import EventResult
from app.services.keys import Principal


def per_call_us(function: Callable[[], Any], count: int) -> float:
    """Mean CPU µs per call over `count` calls (process time: a core shared with other
    work does not inflate it)."""
    start = time.process_time()
    for _ in range(count):
        function()
    return (time.process_time() - start) / count * 1e6


def cases() -> dict[str, Callable[[], Any]]:
    """The measured calls, built on one token of a realistic event."""
    tokens = FeedbackTokens()
    tokens.use_secret(os.urandom(48).hex())
    principal = Principal(key_id=12, project_id=34)
    result = EventResult(uuid.uuid4(), "sess_0123456789abcdef01234567", datetime.now(UTC))
    token = tokens.sign(principal, result.event_id, result.created_at)
    payload = b"\x01" + result.event_id.bytes + bytes(24)
    key = tokens.key

    def answer_with_token() -> bytes:
        signed = tokens.sign(principal, result.event_id, result.created_at)
        return orjson.dumps(event_body(result, signed))

    def answer_without() -> bytes:
        body = event_body(result, "")
        del body["feedback_token"]
        return orjson.dumps(body)

    measured: dict[str, Callable[[], Any]] = {
        "sign": lambda: tokens.sign(principal, result.event_id, result.created_at),
        "verify": lambda: tokens.verify(token),
        "answer with token": answer_with_token,
        "answer without token": answer_without,
        "reference: hmac.digest sha256": lambda: hmac.digest(key, payload, "sha256"),
    }
    try:
        from itsdangerous import URLSafeTimedSerializer
    except ImportError:
        return measured
    serializer = URLSafeTimedSerializer(key, salt="feedback")
    fields = [str(result.event_id), principal.project_id, principal.key_id]
    dumped = serializer.dumps(fields)
    measured["reference: itsdangerous dumps"] = lambda: serializer.dumps(fields)
    measured["reference: itsdangerous loads"] = lambda: serializer.loads(dumped, max_age=86_400)
    return measured


def main() -> None:
    """Print the medians (µs per call) and the load average."""
    parser = argparse.ArgumentParser(prog="python -m bench.feedback_tokens")
    parser.add_argument("--count", type=int, default=20_000, help="calls per round and case")
    parser.add_argument("--reps", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    measured = cases()
    rounds: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(args.reps):
        for name, function in measured.items():
            rounds[name].append(per_call_us(function, args.count))
    load = os.getloadavg()
    print(f"medians of {args.reps} rounds x {args.count} calls; load {load[0]:.2f} {load[1]:.2f}")
    for name, values in rounds.items():
        print(f"  {name:32} {statistics.median(values):7.2f} µs")
    added = statistics.median(rounds["answer with token"]) - statistics.median(
        rounds["answer without token"]
    )
    print(f"  token's share of one answer     +{added:.2f} µs per event")


if __name__ == "__main__":
    main()
