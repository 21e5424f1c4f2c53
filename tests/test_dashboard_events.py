"""The events pages over real HTTP: table, filters, keyset "load more", detail, live stream."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from markupsafe import escape

from tests.harness import Server
from tests.test_dashboard_accounts import browser, create_key, csrf_of, signed_in

Account = tuple[httpx.Client, str]
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def log(server: Server, key: str, **body: Any) -> dict[str, Any]:
    """Log one event over REST."""
    response = httpx.post(
        server.base_url + "/api/v1/events",
        json={"input": "q", "output": "a", **body},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


@contextmanager
def streamed(client: httpx.Client, path: str, *, until: str) -> Iterator[list[str]]:
    """Read an SSE stream in the background until a line contains `until`; yields its lines.

    The body of the `with` runs once the stream is open; leaving it waits (10 s at most) for
    the awaited line.
    """
    received: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        with client.stream("GET", path, timeout=15) as stream:
            ready.set()
            for line in stream.iter_lines():
                received.append(line)
                if until in line:
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10), f"{path} did not open"
    yield received
    thread.join(10)


@pytest.fixture
def account(server: Server) -> Iterator[tuple[httpx.Client, str]]:
    """A signed-in browser-like client and a key of its project."""
    with browser(server) as client:
        signed_in(server, client)
        yield client, create_key(client)


@pytest.fixture
def other_account(server: Server) -> Iterator[tuple[httpx.Client, str]]:
    """A second, unrelated account."""
    with browser(server) as client:
        signed_in(server, client)
        yield client, create_key(client)


def test_empty_project_shows_how_to_send_the_first_event(server: Server, account: Account) -> None:
    client, _ = account
    page = client.get("/events").text
    assert "Waiting for your first event" in page
    assert f"curl -X POST {server.base_url}/api/v1/events" in page
    assert f'"{server.base_url}/api/v1/events"' in page  # the Python snippet


def test_table_lists_events_newest_first_with_their_facts(server: Server, account: Account) -> None:
    client, key = account
    log(
        server,
        key,
        input="older",
        metadata={"model": "gpt-4", "tokens_in": 7, "latency_ms": 12},
    )
    newest = log(server, key, input="newer", user_id="u-9", session_id="conv-9")
    page = client.get("/events").text
    assert page.index("newer") < page.index("older")
    assert f'href="/events/{newest["event_id"]}"' in page
    assert "gpt-4" in page and "12 ms" in page and "u-9" in page and "conv-9" in page


def unmarked(html: str) -> str:
    """A page without the search's highlights (`<mark>` around matched word starts)."""
    return re.sub(r"</?mark>", "", html)


def test_filters_live_in_the_url(server: Server, account: Account) -> None:
    client, key = account
    log(server, key, input="alpha one", metadata={"model": "m1"})
    log(server, key, input="beta two", metadata={"model": "m2"})
    assert "beta two" not in client.get("/events?model=m1").text
    assert "alpha one" in client.get("/events?model=m1").text
    searched = unmarked(client.get("/events?q=BETA").text)
    assert "beta two" in searched and "alpha one" not in searched
    assert client.get("/events?feedback=maybe").status_code == 422
    assert client.get("/events?since=yesterday").status_code == 422


def test_load_more_continues_with_keyset_pages(server: Server, account: Account) -> None:
    client, key = account
    batch = [{"input": f"item-{n:03d}", "output": "a"} for n in range(120)]
    httpx.post(server.base_url + "/api/v1/events/batch", json={"events": batch},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()  # fmt: skip
    page = client.get("/events").text
    seen = re.findall(r">(item-\d{3})<", page)  # the cells' text (their title repeats it)
    link = re.search(r'hx-get="(/events\?after=[^"]+)"', page)
    assert len(seen) == 50 and link
    fragment = client.get(link.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert fragment.headers["vary"] == "HX-Request"
    assert "<html" not in fragment.text and "<tr" in fragment.text
    more = re.findall(r">(item-\d{3})<", fragment.text)
    history = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    restore = client.get(link.group(1).replace("&amp;", "&"), headers=history)
    assert len(more) == 50 and not set(more) & set(seen)
    assert seen[0] == "item-119", "newest first"
    assert "<html" in restore.text, "a history restore gets the whole page"


def test_detail_shows_everything_escaped(server: Server, account: Account) -> None:
    client, key = account
    metadata = {"model": "gpt-4", "custom_key": {"nested": XSS}}
    event = log(
        server, key, input=XSS, output="line 1\n    indented", user_id=XSS, metadata=metadata
    )
    auth = {"Authorization": f"Bearer {key}"}
    url = f"{server.base_url}/api/v1/events/{event['event_id']}/feedback"
    httpx.post(url, json={"score": 0, "comment": XSS}, headers=auth)
    page = client.get(f"/events/{event['event_id']}").text
    table = client.get("/events").text
    for markup in (page, table):
        assert "<script>alert" not in markup and "<img src=x" not in markup
    assert "&lt;script&gt;" in page
    assert "line 1\n    indented" in page, "whitespace is kept"
    assert "custom_key" in page and "nested" in page
    assert "negative" in page


def test_another_projects_event_is_a_404(
    server: Server, account: Account, other_account: Account
) -> None:
    _, alice_key = account
    mallory, _ = other_account
    event = log(server, alice_key, input="private")
    assert mallory.get(f"/events/{event['event_id']}").status_code == 404
    assert "private" not in mallory.get("/events").text


def test_the_stream_pushes_new_rows_of_this_project_only(
    server: Server, account: Account, other_account: Account
) -> None:
    client, key = account
    _, other_key = other_account
    with streamed(client, "/live/events", until="pushed-live") as received:
        log(server, other_key, input="not-for-you")  # logged first: would arrive first if leaked
        log(server, key, input="pushed-live", metadata={"model": "gpt-4"})
    text = "\n".join(received)
    assert "event: event" in text and "pushed-live" in text
    assert "not-for-you" not in text


def test_the_stream_pushes_only_rows_the_filtered_table_lists(
    server: Server, account: Account
) -> None:
    client, key = account
    query = "?model=gpt-4&q=needle"  # the model exactly; the text ignoring case
    with streamed(client, "/live/events" + query, until="last-NEEDLE") as received:
        log(server, key, input="other-model NEEDLE", metadata={"model": "gpt-4o"})
        log(server, key, input="no match here", metadata={"model": "gpt-4"})
        log(server, key, input="last-NEEDLE", metadata={"model": "gpt-4"})
    pushed, listed = "\n".join(received), unmarked(client.get("/events" + query).text)
    for text in (pushed, listed):
        assert "last-NEEDLE" in text
        assert "other-model" not in text and "no match here" not in text


def test_sessions_list_and_replay_in_conversation_order(
    server: Server, account: Account, other_account: Account
) -> None:
    client, key = account
    turns = [("Hello", "Hi!"), ("What's 2+2?", "4"), ("Thanks!", "You're welcome!")]
    ids = [log(server, key, input=q, output=a, session_id="conv-7", user_id="u-7")["event_id"]
           for q, a in turns]  # fmt: skip
    httpx.post(f"{server.base_url}/api/v1/events/{ids[1]}/feedback", json={"score": 0},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()  # fmt: skip
    listing = client.get("/sessions").text
    assert "conv-7" in listing and "1 negative" in listing
    assert re.search(r'class="num">3<', listing), "the event count is shown"
    replay = client.get("/sessions/conv-7").text
    positions = [replay.index(f"<pre>{escape(text)}</pre>") for pair in turns for text in pair]
    assert positions == sorted(positions), "user and assistant bubbles in conversation order"
    assert "negative" in replay
    other, _ = other_account
    assert other.get("/sessions/conv-7").status_code == 404
    assert other.get("/live/session?id=conv-7").status_code == 404


def test_users_page_counts_activity_and_feedback(server: Server, account: Account) -> None:
    client, key = account
    first = log(server, key, user_id="alice", session_id="s1")
    log(server, key, user_id="alice", session_id="s2")
    log(server, key, user_id="bob", session_id="s3")
    httpx.post(f"{server.base_url}/api/v1/events/{first['event_id']}/feedback", json={"score": 1},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()  # fmt: skip
    page = client.get("/users").text
    start = page.index(">alice<")
    alice = page[start : page.index("</tr>", start)]
    numbers = re.findall(r'class="num">(?:<a [^>]*>)?(\d+)', alice)
    assert numbers[:4] == ["2", "2", "1", "0"], "events, sessions, positive, negative"
    assert 'href="/sessions?user=alice"' in page and 'href="/events?user=alice"' in page


def test_streams_check_access_before_answering(server: Server) -> None:
    for path in ("/live/events", "/live/session?id=any"):
        response = httpx.get(server.base_url + path)
        assert response.status_code == 303, "no stream is opened without a login"


def test_session_ids_with_slashes_and_spaces_replay(server: Server, account: Account) -> None:
    client, key = account
    log(server, key, input="nested id", session_id="user/123/conv 9?x=1#y")
    listing = client.get("/sessions").text
    link = re.search(r'href="(/sessions/user[^"]+)"', listing)
    assert link, "the session links to its replay"
    replay = client.get(link.group(1).replace("&amp;", "&"))
    assert replay.status_code == 200 and "nested id" in replay.text


def test_sessions_list_stream_pushes_the_updated_row(server: Server, account: Account) -> None:
    client, key = account
    log(server, key, session_id="grows")
    with streamed(client, "/live/sessions", until="grows") as received:
        log(server, key, session_id="grows")
    text = "\n".join(received)
    assert "event: session" in text and 'data-session="grows"' in text
    assert re.search(r'class="num">2<', text), "the row carries the new event count"


def test_first_run_offers_a_button_that_creates_a_key(server: Server, account: Account) -> None:
    client, _ = account
    page = client.get("/events").text
    form = re.search(r'<form method="post" action="/settings/keys".*?</form>', page, re.S)
    assert form and "Create an API key" in form.group(0)
    created = client.post("/settings/keys", data={"csrf_token": csrf_of(page), "name": "first key"})
    assert created.status_code == 201 and 'id="new-key"' in created.text


def test_event_detail_links_to_its_session_replay(server: Server, account: Account) -> None:
    client, key = account
    event = log(server, key, session_id="conv-link")
    assert 'href="/sessions/conv-link"' in client.get(f"/events/{event['event_id']}").text


def test_event_detail_shows_cost_or_unpriced(server: Server, account: Account) -> None:
    """The estimate in dollars; "unpriced" (not $0) for a model without a known price."""
    client, key = account
    priced = log(server, key, metadata={"model": "gpt-4o", "tokens_in": 1000, "tokens_out": 100})
    unknown = log(server, key, metadata={"model": "house-model", "tokens_in": 10})
    assert "$0.003500" in client.get(f"/events/{priced['event_id']}").text
    page = client.get(f"/events/{unknown['event_id']}").text
    assert "unpriced" in page and "$0.0" not in page
