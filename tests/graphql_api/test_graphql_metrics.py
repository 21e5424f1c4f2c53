"""`Query.metrics` against a real server: every figure checked against values computed here,
independently, from the events the test logged over REST (prices straight from genai-prices,
percentiles by nearest rank over the raw latencies)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import genai_prices
import httpx
import pytest

from tests.graphql_api.helpers import feedback_rest, gql, gql_errors, operation, post
from tests.harness import Server, Tenant

FIGURES = """
fragment Figures on MetricsFigures {
  events tokensIn tokensOut costUsd unpricedEvents positiveFeedback negativeFeedback
  feedbackCount positiveRate latencyP50Ms latencyP95Ms latencyP99Ms errorCount errorRate
}
"""
METRICS = (
    """
query($since: DateTime!, $until: DateTime!, $bucket: MetricsBucket, $groupBy: MetricsGroupBy) {
  metrics(since: $since, until: $until, bucket: $bucket, groupBy: $groupBy) {
    since until bucketSeconds
    summary { ...Figures sessions endUsers }
    previous { ...Figures sessions endUsers }
    series { model points { start ...Figures } }
    models { model ...Figures }
    topUsersByEvents { userId events costUsd unpricedEvents }
    topUsersByCost { userId events costUsd unpricedEvents }
  }
}
"""
    + FIGURES
)
WINDOW = "query($s: DateTime!, $u: DateTime!, $b: MetricsBucket) { metrics(since: $s, until: $u, bucket: $b) { since until bucketSeconds summary { events } } }"  # noqa: E501
PRICED = ("gpt-4o", "gpt-4o-mini")
UNKNOWN = "my-private-model"
# Events per model and per end user, all different so the orderings are unambiguous.
MODEL_COUNTS: dict[str | None, int] = {"gpt-4o": 20, "gpt-4o-mini": 14, UNKNOWN: 10, None: 6}
USER_COUNTS = {"ann": 18, "bob": 13, "cy": 11, "dee": 5, "eve": 3}  # 50; the rest have none


@dataclass
class Logged:
    """One event as the test logged it, and its current feedback."""

    created_at: datetime
    model: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    user_id: str | None
    score: int | None = None
    status: str | None = None

    @property
    def cost(self) -> float | None:
        """Its price by genai-prices; None when it has no tokens or no known price."""
        if self.model is None or (self.tokens_in is None and self.tokens_out is None):
            return None
        usage = genai_prices.Usage(
            input_tokens=self.tokens_in or 0, output_tokens=self.tokens_out or 0
        )
        try:
            return float(genai_prices.calc_price(usage, self.model).total_price)
        except LookupError:
            return None

    @property
    def unpriced(self) -> bool:
        """Tokens but no known price."""
        has_tokens = self.tokens_in is not None or self.tokens_out is not None
        return has_tokens and self.cost is None


def nearest_rank(values: list[float], q: float) -> float | None:
    """The exact q-quantile by nearest rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def assert_figures(got: dict[str, Any], events: list[Logged]) -> None:
    """`got` (a MetricsFigures) holds exactly the figures of `events`."""
    positive = sum(e.score == 1 for e in events)
    negative = sum(e.score == 0 for e in events)
    assert got["events"] == len(events)
    assert got["tokensIn"] == sum(e.tokens_in or 0 for e in events)
    assert got["tokensOut"] == sum(e.tokens_out or 0 for e in events)
    assert got["unpricedEvents"] == sum(e.unpriced for e in events)
    cost = sum(e.cost or 0.0 for e in events)
    assert abs(got["costUsd"] - cost) <= 1e-9 * max(1, len(events)), (got["costUsd"], cost)
    assert (got["positiveFeedback"], got["negativeFeedback"]) == (positive, negative)
    assert got["feedbackCount"] == positive + negative
    if positive + negative:
        assert got["positiveRate"] == pytest.approx(positive / (positive + negative))
    else:
        assert got["positiveRate"] is None
    errors = sum(e.status == "error" for e in events)
    assert got["errorCount"] == errors
    assert got["errorRate"] == (pytest.approx(errors / len(events)) if events else None)
    latencies = [e.latency_ms for e in events if e.latency_ms is not None]
    for field, q in (("latencyP50Ms", 0.5), ("latencyP95Ms", 0.95), ("latencyP99Ms", 0.99)):
        exact = nearest_rank(latencies, q)
        if exact is None:
            assert got[field] is None, field
        else:
            assert got[field] == pytest.approx(exact, rel=0.02), (field, got[field], exact)


def parse(stamp: str) -> datetime:
    """A DateTime from the API."""
    return datetime.fromisoformat(stamp).astimezone(UTC)


def log_batch(server: Server, tenant: Tenant, events: list[dict[str, Any]]) -> list[datetime]:
    """Log events in one batch request; their creation times."""
    return [created for _, created in log_batch_ids(server, tenant, events)]


def log_batch_ids(
    server: Server, tenant: Tenant, events: list[dict[str, Any]]
) -> list[tuple[str, datetime]]:
    """Log events in one batch request; their ids and creation times, in order."""
    response = httpx.post(
        server.base_url + "/api/v1/events/batch",
        json={"events": events},
        headers=tenant.headers,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    return [(result["event_id"], parse(result["created_at"])) for result in results]


def log_dataset(server: Server, tenant: Tenant) -> tuple[list[Logged], list[str]]:
    """Sixty events across priced, unknown and missing models, nine sessions, five end users,
    with latencies and changing feedback."""
    rng = random.Random(5)
    models = [m for m, n in MODEL_COUNTS.items() for _ in range(n)]
    users: list[str | None] = [u for u, n in USER_COUNTS.items() for _ in range(n)]
    users += [None] * (len(models) - len(users))
    rng.shuffle(users)
    planned, bodies = [], []
    for n, (model, user) in enumerate(zip(models, users, strict=True)):
        tokens = model is not None and n % 5 != 4  # some events of every model have no tokens
        event = Logged(
            created_at=datetime.min,
            model=model,
            tokens_in=rng.randint(1, 20_000) if tokens else None,
            tokens_out=(rng.randint(1, 3_000) if n % 7 else None) if tokens else None,
            latency_ms=round(rng.lognormvariate(6.5, 1.0), 3) if n % 6 else None,
            user_id=user,
        )
        metadata = {
            "model": model,
            "tokens_in": event.tokens_in,
            "tokens_out": event.tokens_out,
            "latency_ms": event.latency_ms,
        }
        body: dict[str, Any] = {
            "session_id": f"s{n % 9}",
            "input": "q",
            "output": "a",
            "metadata": {k: v for k, v in metadata.items() if v is not None},
        }
        if user:
            body["user_id"] = user
        if n % 4 == 1:  # errors in every model, some said by `error` alone; some ok
            body.update({"error": "boom"} if n % 8 == 1 else {"status": "error"})
            event.status = "error"
        elif n % 4 == 2:
            body["status"] = event.status = "ok"
        planned.append(event)
        bodies.append(body)
    logged = log_batch_ids(server, tenant, bodies)
    for event, (_, at) in zip(planned, logged, strict=True):
        event.created_at = at
    return planned, [event_id for event_id, _ in logged]


def add_feedback(server: Server, tenant: Tenant, events: list[Logged], ids: list[str]) -> None:
    """Feedback on a third of the events; a few change their mind (only the latest counts)."""
    for n in range(0, len(events), 3):
        score = n % 2
        feedback_rest(server, tenant, ids[n], score)
        if n % 9 == 0:
            score = 1 - score
            feedback_rest(server, tenant, ids[n], score)
        events[n].score = score


def window_vars(events: list[Logged], bucket: str, group_by: str) -> dict[str, Any]:
    """A window a few minutes either side of the events (and their feedback)."""
    since = min(e.created_at for e in events) - timedelta(minutes=4, seconds=30)
    until = max(e.created_at for e in events) + timedelta(minutes=5, seconds=30)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "bucket": bucket,
        "groupBy": group_by,
    }


def check_window(data: dict[str, Any], asked: dict[str, Any], bucket: int) -> None:
    """The answer's window covers the asked one, aligned to the bucket."""
    since, until = parse(data["since"]), parse(data["until"])
    assert data["bucketSeconds"] == bucket
    assert since <= parse(asked["since"]) < since + timedelta(seconds=bucket)
    assert until - timedelta(seconds=bucket) < parse(asked["until"]) <= until
    assert since.timestamp() % bucket == 0 and until.timestamp() % bucket == 0


def check_series(series: dict[str, Any], events: list[Logged], since: datetime, step: int) -> None:
    """A point per bucket, each counting exactly the events created in it."""
    starts = [parse(point["start"]) for point in series["points"]]
    assert starts == [since + timedelta(seconds=step * n) for n in range(len(starts))]
    for point, start in zip(series["points"], starts, strict=True):
        inside = [e for e in events if start <= e.created_at < start + timedelta(seconds=step)]
        assert point["events"] == len(inside)
        assert point["tokensIn"] == sum(e.tokens_in or 0 for e in inside)
        assert point["unpricedEvents"] == sum(e.unpriced for e in inside)
        cost = sum(e.cost or 0.0 for e in inside)
        assert abs(point["costUsd"] - cost) <= 1e-9 * max(1, len(inside))
    # Feedback is counted in the bucket it was given in; over the window it adds up.
    for field in ("positiveFeedback", "negativeFeedback"):
        expected = sum(
            e.score == (field == "positiveFeedback") for e in events if e.score is not None
        )
        assert sum(point[field] for point in series["points"]) == expected


def test_metrics_match_the_logged_events(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = [
        {
            "input": "q",
            "output": "a",
            "user_id": "intruder",
            "metadata": {"model": "gpt-4o", "tokens_in": 999, "latency_ms": 1},
        }
    ] * 4
    log_batch(server, other_tenant, theirs)
    events, ids = log_dataset(server, tenant)
    add_feedback(server, tenant, events, ids)
    asked = window_vars(events, "MINUTE", "NONE")
    data = gql(server, tenant, METRICS, **asked)["metrics"]
    check_window(data, asked, 60)
    since, until = parse(data["since"]), parse(data["until"])
    assert_figures(data["summary"], events)
    assert (data["summary"]["sessions"], data["summary"]["endUsers"]) == (9, len(USER_COUNTS))
    assert_figures(data["previous"], [])  # a fresh project: nothing before the window
    [series] = data["series"]
    assert series["model"] is None
    assert len(series["points"]) == (until - since) // timedelta(minutes=1)
    check_series(series, events, since, 60)

    assert [row["model"] for row in data["models"]] == list(MODEL_COUNTS)  # most events first
    for row in data["models"]:
        assert_figures(row, [e for e in events if e.model == row["model"]])

    def user_row(user: str) -> dict[str, Any]:
        mine = [e for e in events if e.user_id == user]
        return {
            "userId": user,
            "events": len(mine),
            "unpricedEvents": sum(e.unpriced for e in mine),
            "costUsd": pytest.approx(sum(e.cost or 0.0 for e in mine), abs=1e-9 * len(mine)),
        }

    assert data["topUsersByEvents"] == [user_row(user) for user in USER_COUNTS]
    by_cost = sorted(USER_COUNTS, key=lambda u: -sum(e.cost or 0 for e in events if e.user_id == u))
    assert data["topUsersByCost"] == [user_row(user) for user in by_cost]

    # The other project sees only its own four events.
    their_data = gql(server, other_tenant, METRICS, **asked)["metrics"]
    assert their_data["summary"]["events"] == 4 and their_data["summary"]["tokensIn"] == 4 * 999
    assert [u["userId"] for u in their_data["topUsersByEvents"]] == ["intruder"]

    # A window just after the events: they are now the previous period. (Feedback counts in
    # the bucket it was given, which may be the next minute: only the events are checked.)
    later = max(e.created_at for e in events) + timedelta(minutes=1)
    after = {"since": later.isoformat(), "until": (later + timedelta(minutes=10)).isoformat()}
    shifted = gql(server, tenant, METRICS, **after, bucket="MINUTE")["metrics"]
    assert shifted["summary"]["events"] == shifted["summary"]["tokensIn"] == 0
    assert shifted["summary"]["latencyP50Ms"] is None
    start = parse(shifted["since"]) - (parse(shifted["until"]) - parse(shifted["since"]))
    assert all(start <= e.created_at for e in events)  # all in the ten minutes before since
    assert shifted["previous"]["events"] == len(events)
    assert shifted["previous"]["tokensIn"] == sum(e.tokens_in or 0 for e in events)

    # Grouped by model: one series per model (null: events without a model).
    grouped = gql(server, tenant, METRICS, **{**asked, "groupBy": "MODEL"})["metrics"]
    assert {s["model"] for s in grouped["series"]} == set(MODEL_COUNTS)
    for series in grouped["series"]:
        check_series(series, [e for e in events if e.model == series["model"]], since, 60)
    assert grouped["summary"] == data["summary"]


def test_unknown_models_are_unpriced_not_free(server: Server, tenant: Tenant) -> None:
    created = log_batch(
        server,
        tenant,
        [
            {
                "input": "q",
                "output": "a",
                "metadata": {"model": UNKNOWN, "tokens_in": 500, "tokens_out": 9},
            },
            {"input": "q", "output": "a", "metadata": {"model": UNKNOWN}},  # nothing to price
            {"input": "q", "output": "a", "metadata": {"model": "gpt-4o", "tokens_in": 1000}},
        ],
    )
    asked = {
        "since": (created[0] - timedelta(hours=1)).isoformat(),
        "until": (created[0] + timedelta(hours=1)).isoformat(),
    }
    data = gql(server, tenant, METRICS, **asked, bucket="HOUR")["metrics"]
    price = float(
        genai_prices.calc_price(genai_prices.Usage(input_tokens=1000), "gpt-4o").total_price
    )
    assert data["summary"]["costUsd"] == pytest.approx(price, abs=1e-9)
    assert data["summary"]["unpricedEvents"] == 1
    unknown = next(row for row in data["models"] if row["model"] == UNKNOWN)
    assert (unknown["events"], unknown["unpricedEvents"], unknown["costUsd"]) == (2, 1, 0)


def test_models_past_the_busiest_are_summed(server: Server, tenant: Tenant) -> None:
    """Models are whatever clients send: the 20 busiest get a series and a row each, one last
    series and row sum the others, so a project with many models gets a bounded answer."""
    rng = random.Random(23)
    counts = {f"model-{n:02d}": n + 1 for n in range(23)}  # all different: one ranking
    bodies = [
        {"input": "q", "output": "a",
         "metadata": {"model": model, "tokens_in": rng.randint(1, 900),
                      "latency_ms": round(rng.uniform(10, 2000), 3)}}
        for model, count in counts.items() for _ in range(count)
    ]  # fmt: skip
    rng.shuffle(bodies)
    created = log_batch(server, tenant, bodies)
    events = [
        Logged(at, body["metadata"]["model"], body["metadata"]["tokens_in"], None,
               body["metadata"]["latency_ms"], None)
        for at, body in zip(created, bodies, strict=True)
    ]  # fmt: skip
    asked = window_vars(events, "HOUR", "MODEL")
    query = METRICS.replace("series { model", "series { model otherModels").replace(
        "models { model", "models { model otherModels"
    )
    data = gql(server, tenant, query, **asked)["metrics"]
    ranked = sorted(counts, key=lambda model: -counts[model])
    busiest, rest = ranked[:20], set(ranked[20:])
    shown = [(model, 0) for model in busiest] + [(None, 3)]
    assert [(s["model"], s["otherModels"]) for s in data["series"]] == shown
    assert [(row["model"], row["otherModels"]) for row in data["models"]] == shown
    since, step = parse(data["since"]), data["bucketSeconds"]
    for series, row, model in zip(data["series"], data["models"], [*busiest, None], strict=True):
        mine = [e for e in events if (e.model in rest if model is None else e.model == model)]
        check_series(series, mine, since, step)
        assert_figures(row, mine)
    assert_figures(data["summary"], events)
    ungrouped = gql(server, tenant, query, **{**asked, "groupBy": "NONE"})["metrics"]
    assert [(s["model"], s["otherModels"]) for s in ungrouped["series"]] == [(None, 0)]


def test_token_sums_beyond_32_bits(server: Server, tenant: Tenant) -> None:
    big = {  # the largest tokens an event may have (validation.MAX_TOKENS) and a bit less
        "input": "q",
        "output": "a",
        "metadata": {"model": UNKNOWN, "tokens_in": 1_000_000_000, "tokens_out": 750_000_000},
    }
    created = log_batch(server, tenant, [big] * 6)
    asked = {
        "since": (created[0] - timedelta(minutes=5)).isoformat(),
        "until": (created[0] + timedelta(minutes=5)).isoformat(),
    }
    data = gql(server, tenant, METRICS, **asked, groupBy="MODEL")["metrics"]
    assert (data["summary"]["tokensIn"], data["summary"]["tokensOut"]) == (6 * 10**9, 4_500_000_000)
    [series] = data["series"]
    assert sum(point["tokensIn"] for point in series["points"]) == 6 * 10**9
    assert data["models"][0]["tokensOut"] == 4_500_000_000


def test_event_carries_its_cost_and_tokens(server: Server, tenant: Tenant) -> None:
    """Event.tokensIn is a BigInt (events stored before the bound may hold more than 32
    bits); Event.costUsd is the estimate, or null when unpriced."""
    events = [
        {"input": "q", "output": "a", "metadata": {"model": "gpt-4o", "tokens_in": 1_000_000_000}},
        {"input": "q", "output": "a", "metadata": {"model": UNKNOWN, "tokens_in": 5}},
    ]
    log_batch(server, tenant, events)
    query = "{ events(first: 2) { edges { node { model tokensIn costUsd } } } }"
    nodes = [edge["node"] for edge in gql(server, tenant, query)["events"]["edges"]]
    by_model = {node["model"]: node for node in nodes}
    assert by_model["gpt-4o"]["tokensIn"] == 1_000_000_000
    assert by_model["gpt-4o"]["costUsd"] == pytest.approx(2500.0)  # $2.50 per million
    assert by_model[UNKNOWN]["costUsd"] is None


def test_default_bucket_and_the_documented_operation(server: Server, tenant: Tenant) -> None:
    [created] = log_batch(
        server,
        tenant,
        [
            {
                "input": "q",
                "output": "a",
                "user_id": "u",
                "metadata": {"model": "gpt-4o", "tokens_in": 10},
            }
        ],
    )
    for length, bucket in (
        (timedelta(hours=1), 60),
        (timedelta(days=7), 3600),
        (timedelta(days=365), 86400),
    ):
        asked = {"s": (created - length / 2).isoformat(), "u": (created + length / 2).isoformat()}
        data = gql(server, tenant, WINDOW, **asked)["metrics"]
        assert data["bucketSeconds"] == bucket and data["summary"]["events"] == 1
    end = created + timedelta(minutes=1)
    asked = {"since": (end - timedelta(days=1)).isoformat(), "until": end.isoformat()}
    documented = gql(server, tenant, operation("metrics"), **asked)["metrics"]
    assert documented["bucketSeconds"] == 900 and documented["summary"]["events"] == 1
    assert [s["model"] for s in documented["series"]] == ["gpt-4o"]
    assert documented["topUsersByCost"][0]["userId"] == "u"


def test_bad_windows_are_explained(server: Server, tenant: Tenant) -> None:
    now = datetime.now(UTC)

    def errors(since: datetime, until: datetime, bucket: str | None = None) -> list[str]:
        return gql_errors(
            server, tenant, WINDOW, s=since.isoformat(), u=until.isoformat(), b=bucket
        )

    assert errors(now, now - timedelta(hours=1)) == ["until must be after since"]
    [message] = errors(now - timedelta(days=2), now, "MINUTE")
    assert message.startswith("too many buckets") and "choose a larger bucket" in message
    assert errors(now - timedelta(days=500), now, "DAY") == ["a window may span at most 400 days"]
    response = post(server, tenant, WINDOW, s=now.isoformat(), u=now.isoformat(), b="WEEK")
    assert response.status_code != 500
    [message] = [e["message"] for e in response.json()["errors"]]
    assert "'WEEK' does not exist in 'MetricsBucket' enum" in message
    response = post(server, tenant, WINDOW, s="yesterday", u=now.isoformat())
    assert response.status_code != 500 and "yesterday" in response.json()["errors"][0]["message"]


def test_metrics_need_credentials(server: Server) -> None:
    now = datetime.now(UTC).isoformat()
    response = post(server, None, WINDOW, s=now, u=now)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
