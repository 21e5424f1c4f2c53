"""Feedback on events, and the all-or-nothing batch endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.harness import Server, Tenant


def log(server: Server, tenant: Tenant, **body: Any) -> dict[str, Any]:
    """Log one event and return the answer."""
    response = httpx.post(
        server.base_url + "/api/v1/events",
        json={"input": "q", "output": "a", **body},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def feedback(server: Server, tenant: Tenant, event_id: str, body: Any) -> httpx.Response:
    """POST feedback as `tenant`."""
    return httpx.post(
        f"{server.base_url}/api/v1/events/{event_id}/feedback", json=body, headers=tenant.headers
    )


def batch(server: Server, tenant: Tenant, body: Any) -> httpx.Response:
    """POST a batch as `tenant`."""
    return httpx.post(
        server.base_url + "/api/v1/events/batch", json=body, headers=tenant.headers, timeout=60
    )


def count(server: Server, table: str, tenant: Tenant) -> int:
    """Rows of `table` belonging to the tenant."""
    sql = f"SELECT count(*) FROM {table} WHERE project_id = ?"  # noqa: S608 (test constant)
    return int(server.query(sql, tenant.project_id)[0][0])


def test_feedback_is_stored_and_answered(server: Server, tenant: Tenant) -> None:
    event = log(server, tenant)
    response = feedback(server, tenant, event["event_id"], {"score": 0, "comment": "wrong"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"feedback_id", "event_id", "score", "comment", "created_at"}
    assert (body["event_id"], body["score"], body["comment"]) == (event["event_id"], 0, "wrong")
    assert uuid.UUID(body["feedback_id"]).version == 7
    assert body["created_at"].endswith("Z")
    no_comment = feedback(server, tenant, event["event_id"], {"score": 1}).json()
    assert no_comment["comment"] is None
    rows = server.query(
        "SELECT score, comment FROM feedback WHERE project_id = ? ORDER BY created_at, id",
        tenant.project_id,
    )
    assert rows == [(0, "wrong"), (1, None)]


def test_an_integral_float_score_counts_as_the_integer(server: Server, tenant: Tenant) -> None:
    """JSON Schema counts 1.0 as an integer (and schemathesis sends it): it is a score of 1."""
    event = log(server, tenant)
    response = feedback(server, tenant, event["event_id"], {"score": 1.0})
    assert response.status_code == 201, response.text
    assert response.json()["score"] == 1
    stored = server.query("SELECT score FROM feedback WHERE project_id = ?", tenant.project_id)
    assert stored == [(1,)]


@pytest.mark.parametrize(
    "body",
    [{"score": True}, {"score": "1"}, {"score": 2}, {"score": -1}, {"score": 0.5},
     {"score": 2.0}, {"score": None}, {}, {"score": 1, "comment": 5}, {"score": 1, "rating": 1}],
    ids=["true", "string", "two", "minus", "fraction", "two-float", "null", "missing",
         "comment-int", "unknown"],
)  # fmt: skip
def test_bad_feedback_is_422_and_stores_nothing(server: Server, tenant: Tenant, body: Any) -> None:
    event = log(server, tenant)
    response = feedback(server, tenant, event["event_id"], body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("body.")
    assert count(server, "feedback", tenant) == 0


def test_feedback_on_unknown_or_foreign_event_is_the_same_404(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = log(server, other_tenant)["event_id"]
    answers = [
        feedback(server, tenant, foreign, {"score": 1}),
        feedback(server, tenant, str(uuid.uuid4()), {"score": 1}),
        feedback(server, tenant, "not-a-uuid", {"score": 1}),
    ]
    assert [r.status_code for r in answers] == [404, 404, 404]
    assert len({r.text for r in answers}) == 1
    assert count(server, "feedback", other_tenant) == 0


def test_batch_stores_every_event_in_order(server: Server, tenant: Tenant) -> None:
    events = [{"input": f"q{i}", "output": "a", "session_id": "b1"} for i in range(250)]
    events[3]["metadata"] = {"model": "m", "tokens_in": 3}
    response = batch(server, tenant, {"events": events})
    assert response.status_code == 201
    results = response.json()["results"]
    assert len(results) == 250
    assert {r["session_id"] for r in results} == {"b1"}
    stored = server.event_rows(tenant.project_id)
    assert [row[2] for row in stored] == [f"q{i}" for i in range(250)]
    assert [str(row[0]) for row in stored] == [r["event_id"] for r in results]
    assert server.query(
        "SELECT event_count FROM sessions WHERE project_id = ?", tenant.project_id
    ) == [(250,)]


def test_batch_sizes_outside_1_to_1000_are_refused(server: Server, tenant: Tenant) -> None:
    assert batch(server, tenant, {"events": []}).status_code == 422
    too_many = {"events": [{"input": "q", "output": "a"}] * 1001}
    response = batch(server, tenant, too_many)
    assert response.status_code == 422
    assert "events" in response.json()["detail"]
    assert (
        batch(server, tenant, {"events": [{"input": "q", "output": "a"}] * 1000}).status_code == 201
    )
    assert count(server, "events", tenant) == 1000


@pytest.mark.parametrize(
    ("bad_item", "loc"),
    [
        ({"input": "q", "output": 5}, ["body", "events", 2, "output"]),
        ({"input": "q", "output": "a", "metadata": {"tokens_in": "x"}},
         ["body", "events", 2, "metadata", "tokens_in"]),
        ({"input": "q", "output": "a", "sessionId": "s"}, ["body", "events", 2, "sessionId"]),
    ],
    ids=["type", "metadata", "unknown-field"],
)  # fmt: skip
def test_batch_is_all_or_nothing_with_the_failing_index(
    server: Server, tenant: Tenant, bad_item: dict[str, Any], loc: list[Any]
) -> None:
    good = {"input": "q", "output": "a"}
    response = batch(server, tenant, {"events": [good, good, bad_item, good]})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == loc
    assert count(server, "events", tenant) == 0


def test_batch_retries_are_idempotent_per_event(server: Server, tenant: Tenant) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    events = [{"input": "q", "output": "a", "event_id": i} for i in ids]
    first = batch(server, tenant, {"events": events[:2]}).json()["results"]
    again = batch(server, tenant, {"events": events}).json()["results"]
    assert again[:2] == first
    assert [r["event_id"] for r in again] == ids
    assert count(server, "events", tenant) == 3


def test_batch_with_a_foreign_event_id_is_409_and_stores_nothing(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    taken = log(server, other_tenant, event_id=str(uuid.uuid4()))["event_id"]
    events = [{"input": "q", "output": "a"}, {"input": "q", "output": "a", "event_id": taken}]
    response = batch(server, tenant, {"events": events})
    assert response.status_code == 409
    assert count(server, "events", tenant) == 0


def test_batch_body_must_be_an_events_object(server: Server, tenant: Tenant) -> None:
    assert batch(server, tenant, [{"input": "q", "output": "a"}]).status_code == 422
    assert batch(server, tenant, {"events": "nope"}).status_code == 422
    assert batch(server, tenant, {"events": [], "extra": 1}).status_code == 422
