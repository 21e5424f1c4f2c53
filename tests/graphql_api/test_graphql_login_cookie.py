"""GraphQL with the dashboard's login cookie: the user's projects only, read-only, same origin."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from websockets.asyncio.client import connect

from tests.graphql_api.helpers import ws_url
from tests.harness import Server
from tests.test_dashboard_accounts import browser, create_key, csrf_of, sign_up

PROJECT = "{ project { name totals { events } } events(first: 5) { edges { node { input } } } }"


def signed_in(server: Server) -> tuple[httpx.Client, str]:
    """A signed-in dashboard client (cookie + this server's Origin) and a key of its project."""
    client = browser(server)
    sign_up(client)
    return client, create_key(client)


def log(server: Server, key: str, text: str) -> None:
    """Log one event over REST."""
    httpx.post(server.base_url + "/api/v1/events", json={"input": text, "output": "a"},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()  # fmt: skip


def test_queries_see_the_current_project(server: Server) -> None:
    client, key = signed_in(server)
    log(server, key, "seen through the cookie")
    body = client.post("/graphql", json={"query": PROJECT}).json()
    client.close()
    assert body["data"]["project"]["totals"]["events"] == 1
    assert body["data"]["events"]["edges"][0]["node"]["input"] == "seen through the cookie"


def test_another_users_project_cannot_be_chosen(server: Server) -> None:
    alice, alice_key = signed_in(server)
    mallory, _ = signed_in(server)
    log(server, alice_key, "alice only")
    page = alice.get("/settings/project").text
    alice_project = re.search(r'<option value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    stolen = mallory.post(
        "/graphql", json={"query": PROJECT}, headers={"X-Phospho-Project": alice_project}
    )
    own = alice.post(f"/graphql?project={alice_project}", json={"query": PROJECT})
    alice.close()
    mallory.close()
    assert stolen.status_code == 401 and "alice only" not in stolen.text
    assert own.status_code == 200 and "alice only" in own.text


def test_mutations_need_an_api_key(server: Server) -> None:
    client, _ = signed_in(server)
    mutation = 'mutation { logEvent(input: {input: "q", output: "a"}) { id } }'
    body = client.post("/graphql", json={"query": mutation}).json()
    client.close()
    assert "need an API key" in body["errors"][0]["message"]


def test_cross_origin_cookie_requests_are_refused(server: Server) -> None:
    client, _ = signed_in(server)
    response = client.post(
        "/graphql", json={"query": PROJECT}, headers={"Origin": "https://evil.example"}
    )
    client.close()
    assert response.status_code == 401


async def test_subscriptions_accept_the_cookie(server: Server) -> None:
    client, key = signed_in(server)
    cookie = f"phospho_session={client.cookies.get('phospho_session')}"
    csrf_of(client.get("/settings/keys").text)  # still signed in
    client.close()
    headers = {"Cookie": cookie, "Origin": server.base_url}
    async with connect(ws_url(server), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                       additional_headers=headers) as ws:  # fmt: skip
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription { eventLogged { input } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(log, server, key, "pushed to the cookie")
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["payload"]["data"]["eventLogged"]["input"] == "pushed to the cookie"


def test_cookie_requests_must_show_they_come_from_this_server(server: Server) -> None:
    """The dashboard forms' rule (app/origin.py): Origin, or failing that a Referer of this
    server; a cookie sent with neither is refused as it is by the forms."""
    client, _ = signed_in(server)
    cookie = {"Cookie": f"phospho_session={client.cookies.get('phospho_session')}"}
    client.close()
    url, body = server.base_url + "/graphql", {"query": PROJECT}
    bare = httpx.post(url, json=body, headers=cookie)
    referred = httpx.post(url, json=body, headers=cookie | {"Referer": server.base_url + "/"})
    foreign = httpx.post(url, json=body, headers=cookie | {"Referer": "https://evil.example/"})
    assert bare.status_code == 401
    assert referred.status_code == 200 and "errors" not in referred.json()
    assert foreign.status_code == 401
