"""GraphQL reads against a real server: filters, keyset pagination, relations, tenancy."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.graphql_api.helpers import feedback_rest, gql, gql_errors, log_rest, operation
from tests.harness import Server, Tenant

EVENTS = """
query($first: Int, $after: String, $filter: EventFilter) {
  events(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id input sessionId userId model tokensIn metadata } }
  }
}
"""


def ids(data: dict[str, object], field: str = "events") -> list[str]:
    """Node ids of a connection in the answer."""
    connection = data[field]
    assert isinstance(connection, dict)
    return [edge["node"]["id"] for edge in connection["edges"]]


def test_events_newest_first_with_filters(server: Server, tenant: Tenant) -> None:
    a = log_rest(server, tenant, input="alpha", session_id="s-a", user_id="ann",
                 metadata={"model": "gpt-x", "tokens_in": 7})  # fmt: skip
    b = log_rest(server, tenant, input="Beta needle", session_id="s-b", user_id="bob")
    c = log_rest(server, tenant, input="gamma", session_id="s-a", user_id="ann")
    feedback_rest(server, tenant, a["event_id"], 1)
    feedback_rest(server, tenant, c["event_id"], 1)
    feedback_rest(server, tenant, c["event_id"], 0)  # changed their mind: now negative

    data = gql(server, tenant, EVENTS)
    assert ids(data) == [c["event_id"], b["event_id"], a["event_id"]]
    assert data["events"]["totalCount"] == 3
    first = data["events"]["edges"][2]["node"]
    assert first["model"] == "gpt-x" and first["tokensIn"] == 7
    assert first["metadata"] == {"model": "gpt-x", "tokens_in": 7}

    def only(**f: object) -> list[str]:
        return ids(gql(server, tenant, EVENTS, filter=f))

    assert only(sessionId="s-a") == [c["event_id"], a["event_id"]]
    assert only(userId="bob") == [b["event_id"]]
    assert only(model="gpt-x") == [a["event_id"]]
    assert only(feedback="POSITIVE") == [a["event_id"]]
    assert only(feedback="NEGATIVE") == [c["event_id"]]
    assert only(feedback="NONE") == [b["event_id"]]
    assert only(search="NEEDLE") == [b["event_id"]]
    assert only(since=b["created_at"]) == [c["event_id"], b["event_id"]]
    assert only(until=b["created_at"]) == [a["event_id"]]
    counted = gql(server, tenant, EVENTS, filter={"sessionId": "s-a"})
    assert counted["events"]["totalCount"] == 2


def test_events_pagination_walks_every_event_once(server: Server, tenant: Tenant) -> None:
    logged = [log_rest(server, tenant, input=f"n{n}")["event_id"] for n in range(7)]
    seen: list[str] = []
    after = None
    while True:
        data = gql(server, tenant, EVENTS, first=3, after=after)["events"]
        seen += [edge["node"]["id"] for edge in data["edges"]]
        assert data["edges"][-1]["cursor"] == data["pageInfo"]["endCursor"]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert seen == list(reversed(logged))
    # An edge's own cursor resumes right after that edge.
    page = gql(server, tenant, EVENTS, first=7)["events"]["edges"]
    resumed = gql(server, tenant, EVENTS, first=2, after=page[1]["cursor"])
    assert ids(resumed) == [page[2]["node"]["id"], page[3]["node"]["id"]]


def test_first_is_capped_and_bad_input_explained(server: Server, tenant: Tenant) -> None:
    for n in range(3):
        log_rest(server, tenant, input=f"n{n}")
    data = gql(server, tenant, EVENTS, first=1000)
    assert len(data["events"]["edges"]) == 3
    assert gql_errors(server, tenant, EVENTS, first=0) == ["first must be an integer from 1 to 100"]
    assert gql_errors(server, tenant, EVENTS, after="garbage") == ["after is not a valid cursor"]


def test_event_relations_and_single_event(server: Server, tenant: Tenant) -> None:
    event = log_rest(server, tenant, session_id="conv", user_id="u")
    feedback_rest(server, tenant, event["event_id"], 1, "good")
    feedback_rest(server, tenant, event["event_id"], 0, "actually bad")
    query = """query($id: ID!) { event(id: $id) {
        id feedback { score comment event { id } } latestFeedback { score comment }
        session { id userId eventCount } } }"""
    got = gql(server, tenant, query, id=event["event_id"])["event"]
    assert [f["comment"] for f in got["feedback"]] == ["good", "actually bad"]
    assert got["feedback"][0]["event"]["id"] == event["event_id"]
    assert got["latestFeedback"] == {"score": 0, "comment": "actually bad"}
    assert got["session"] == {"id": "conv", "userId": "u", "eventCount": 1}
    assert gql(server, tenant, query, id="not-a-uuid")["event"] is None


def test_session_replay_in_conversation_order(server: Server, tenant: Tenant) -> None:
    turns = [log_rest(server, tenant, session_id="replay", input=f"turn {n}") for n in range(4)]
    data = gql(server, tenant, operation("session_replay"), id="replay")["session"]
    assert data["eventCount"] == 4
    assert [e["node"]["id"] for e in data["events"]["edges"]] == [t["event_id"] for t in turns]
    page = gql(server, tenant, operation("session_replay"), id="replay", first=3)["session"]
    rest = gql(server, tenant, operation("session_replay"), id="replay",
               after=page["events"]["pageInfo"]["endCursor"])["session"]  # fmt: skip
    assert [e["node"]["input"] for e in rest["events"]["edges"]] == ["turn 3"]
    assert gql(server, tenant, operation("session_replay"), id="nope")["session"] is None


def test_sessions_list_and_filter(server: Server, tenant: Tenant) -> None:
    log_rest(server, tenant, session_id="old", user_id="ann")
    log_rest(server, tenant, session_id="new", user_id="bob")
    query = """query($after: String, $filter: SessionFilter) {
        sessions(first: 1, after: $after, filter: $filter) {
        totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id userId } } } }"""
    first = gql(server, tenant, query)["sessions"]
    assert first["totalCount"] == 2 and ids({"s": first}, "s") == ["new"]
    second = gql(server, tenant, query, after=first["pageInfo"]["endCursor"])["sessions"]
    assert ids({"s": second}, "s") == ["old"] and not second["pageInfo"]["hasNextPage"]
    assert ids(gql(server, tenant, query, filter={"userId": "ann"}), "sessions") == ["old"]


def test_feedback_list_and_negative_since(server: Server, tenant: Tenant) -> None:
    early = log_rest(server, tenant)["event_id"]
    late = log_rest(server, tenant)["event_id"]
    feedback_rest(server, tenant, early, 0, "old complaint")
    time.sleep(0.01)
    since = datetime.now(UTC).isoformat()
    feedback_rest(server, tenant, late, 0, "new complaint")
    feedback_rest(server, tenant, late, 1, "praise")
    data = gql(server, tenant, operation("negative_feedback_since"), since=since)["feedback"]
    nodes = [edge["node"] for edge in data["edges"]]
    assert [(n["comment"], n["event"]["id"]) for n in nodes] == [("new complaint", late)]
    everything = gql(server, tenant, "{ feedback { totalCount edges { node { score } } } }")
    assert everything["feedback"]["totalCount"] == 3


def test_users_and_project_totals(server: Server, tenant: Tenant) -> None:
    a = log_rest(server, tenant, user_id="ann", session_id="x")["event_id"]
    log_rest(server, tenant, user_id="ann", session_id="y")
    log_rest(server, tenant, user_id="bob", session_id="z")
    feedback_rest(server, tenant, a, 0)
    query = """{ users { totalCount edges { node { id eventCount sessionCount firstSeen
        lastSeen positiveFeedback negativeFeedback } } }
        project { name totals { events sessions endUsers positiveFeedback negativeFeedback } } }"""
    data = gql(server, tenant, query)
    users = {edge["node"]["id"]: edge["node"] for edge in data["users"]["edges"]}
    assert list(users) == ["bob", "ann"] and data["users"]["totalCount"] == 2
    assert users["ann"]["eventCount"] == 2 and users["ann"]["sessionCount"] == 2
    assert users["ann"]["negativeFeedback"] == 1 and users["ann"]["positiveFeedback"] == 0
    name = server.query("SELECT name FROM projects WHERE id = ?", tenant.project_id)[0][0]
    assert data["project"] == {
        "name": name,
        "totals": {"events": 3, "sessions": 3, "endUsers": 2,
                   "positiveFeedback": 0, "negativeFeedback": 1},
    }  # fmt: skip


def test_reads_are_scoped_to_the_keys_project(
    server: Server, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = log_rest(server, other_tenant, session_id="shared-name")
    mine = log_rest(server, tenant, session_id="shared-name")
    assert ids(gql(server, tenant, EVENTS)) == [mine["event_id"]]
    query = "query($id: ID!) { event(id: $id) { id } }"
    assert gql(server, tenant, query, id=theirs["event_id"])["event"] is None
    replay = gql(server, tenant, operation("session_replay"), id="shared-name")["session"]
    assert [e["node"]["id"] for e in replay["events"]["edges"]] == [mine["event_id"]]
    assert gql(server, tenant, operation("latest_events"))["events"]["totalCount"] == 1
