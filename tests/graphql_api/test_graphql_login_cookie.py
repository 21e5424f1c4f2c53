"""GraphQL with the dashboard's login cookie (app/schema/login.py): only with the dashboard's
proof (POST, this server's origin, the session's CSRF token), the user's projects only, with
the user's role; API keys unchanged."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.graphql_api.helpers import ws_url
from tests.harness import Server
from tests.test_dashboard_accounts import browser, create_key, csrf_of, sign_up
from tests.test_dashboard_roles import Project, project  # noqa: F401  (fixture)

PROJECT = "{ project { name totals { events } } events(first: 5) { edges { node { input } } } }"
RULE = (
    'mutation { createAlertRule(input: {name: "r", metric: EVENTS, window: FIVE_MINUTES, '
    "comparison: GT, threshold: 1}) { id } }"
)


def signed_in(server: Server) -> tuple[httpx.Client, str]:
    """A signed-in dashboard client (cookie + this server's Origin) and a key of its project."""
    client = browser(server)
    sign_up(client)
    return client, create_key(client)


def token_of(client: httpx.Client) -> dict[str, str]:
    """The CSRF header the dashboard's GraphQL page sends (its session's token)."""
    return {"X-CSRF-Token": csrf_of(client.get("/settings/project").text)}


def ask(client: httpx.Client, query: str, **headers: str) -> httpx.Response:
    """POST a document with the cookie and the session's CSRF token, as GraphiQL does."""
    return client.post("/graphql", json={"query": query}, headers=token_of(client) | headers)


def log(server: Server, key: str, text: str) -> None:
    """Log one event over REST."""
    httpx.post(server.base_url + "/api/v1/events", json={"input": text, "output": "a"},
               headers={"Authorization": f"Bearer {key}"}).raise_for_status()  # fmt: skip


def test_queries_see_the_current_project_only(server: Server) -> None:
    client, key = signed_in(server)
    log(server, key, "seen through the cookie")
    other = server.new_tenant()
    log(server, other.key, "another tenant's event")
    response = ask(client, PROJECT)
    client.close()
    body = response.json()
    assert body["data"]["project"]["totals"]["events"] == 1
    assert body["data"]["events"]["edges"][0]["node"]["input"] == "seen through the cookie"
    assert "another tenant" not in response.text


def test_a_cookie_without_the_csrf_token_is_refused(server: Server) -> None:
    client, key = signed_in(server)
    log(server, key, "kept from a forged request")
    bare = client.post("/graphql", json={"query": PROJECT})
    wrong = client.post("/graphql", json={"query": PROJECT}, headers={"X-CSRF-Token": "nope"})
    client.close()
    for refused in (bare, wrong):
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
        assert "kept from" not in refused.text and "X-CSRF-Token" in refused.text


def test_another_users_project_cannot_be_chosen(server: Server) -> None:
    alice, alice_key = signed_in(server)
    mallory, _ = signed_in(server)
    log(server, alice_key, "alice only")
    page = alice.get("/settings/project").text
    alice_project = re.search(r'<option value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    stolen = ask(mallory, PROJECT, **{"X-Phospho-Project": alice_project})
    odd = mallory.post("/graphql", params={"project": "\uff11\uff12"}, json={"query": PROJECT},
                       headers=token_of(mallory))  # digits, not ASCII ones  # fmt: skip
    own = alice.post(f"/graphql?project={alice_project}", json={"query": PROJECT},
                     headers=token_of(alice))  # fmt: skip
    alice.close()
    mallory.close()
    assert stolen.status_code == 401 and "alice only" not in stolen.text
    assert odd.status_code == 401
    assert own.status_code == 200 and "alice only" in own.text


def test_a_logged_out_cookie_is_401(server: Server) -> None:
    client, _ = signed_in(server)
    token = token_of(client)
    cookie = client.cookies.get("phospho_session")
    assert client.post("/logout", data={"csrf_token": token["X-CSRF-Token"]}).status_code == 303
    client.close()
    stale = httpx.post(server.base_url + "/graphql", json={"query": PROJECT},
                       headers={"Origin": server.base_url, "Cookie": f"phospho_session={cookie}",
                                **token})  # fmt: skip
    assert stale.status_code == 401 and stale.json()["code"] == "unauthorized"


def test_logging_needs_an_api_key(server: Server) -> None:
    client, _ = signed_in(server)
    mutation = 'mutation { logEvent(input: {input: "q", output: "a"}) { id } }'
    body = ask(client, mutation).json()
    client.close()
    assert "needs an API key" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "forbidden"


def test_the_roles_table_holds_for_mutations(project: Project) -> None:  # noqa: F811
    """An owner manages alerts with the cookie as on Settings → Alerts; a member may not."""
    refused = ask(project.member, RULE).json()
    assert refused["data"] is None
    assert refused["errors"][0]["message"] == (
        "only the project's owner can change the project's alert rules and destinations"
    )
    erase = ask(project.member, 'mutation { deleteEndUser(userId: "u") { events } }').json()
    assert "only the project's owner can erase" in erase["errors"][0]["message"]
    rules = "SELECT count(*) FROM alert_rules WHERE project_id = ?"
    assert project.server.query(rules, project.id)[0][0] == 0
    made = ask(project.owner, RULE).json()
    assert "errors" not in made, made
    assert project.server.query(rules, project.id)[0][0] == 1


def test_a_key_works_as_before_with_or_without_a_cookie(server: Server) -> None:
    """A key pasted in GraphiQL's Headers pane is sent beside the cookie: the key decides."""
    client, _ = signed_in(server)
    other = server.new_tenant()
    log(server, other.key, "the key's project")
    bearer = {"Authorization": f"Bearer {other.key}"}
    with_cookie = client.post("/graphql", json={"query": PROJECT}, headers=bearer)
    alone = httpx.post(server.base_url + "/graphql", json={"query": PROJECT}, headers=bearer)
    mutation = 'mutation { logEvent(input: {input: "k", output: "a"}) { id } }'
    logged = client.post("/graphql", json={"query": mutation}, headers=bearer).json()
    client.close()
    for answer in (with_cookie, alone):
        assert answer.status_code == 200 and "the key's project" in answer.text
    assert logged["data"]["logEvent"]["id"]


def test_cookie_requests_must_show_they_come_from_this_server(server: Server) -> None:
    """The dashboard forms' rule (app/origin.py): Origin, or failing that a Referer of this
    server; a cookie sent with neither is refused as it is by the forms."""
    client, _ = signed_in(server)
    headers = {"Cookie": f"phospho_session={client.cookies.get('phospho_session')}"}
    headers |= token_of(client)
    client.close()
    url, body = server.base_url + "/graphql", {"query": PROJECT}
    bare = httpx.post(url, json=body, headers=headers)
    referred = httpx.post(url, json=body, headers=headers | {"Referer": server.base_url + "/"})
    foreign = httpx.post(url, json=body, headers=headers | {"Referer": "https://evil.example/"})
    evil = httpx.post(url, json=body, headers=headers | {"Origin": "https://evil.example"})
    assert bare.status_code == 403
    assert referred.status_code == 200 and "errors" not in referred.json()
    assert foreign.status_code == 403 and evil.status_code == 403


def test_the_cookie_is_refused_on_a_get(server: Server) -> None:
    client, _ = signed_in(server)
    answer = client.get("/graphql", params={"query": "{ project { name } }"},
                        headers=token_of(client))  # fmt: skip
    client.close()
    assert answer.status_code == 401


def test_a_browser_opening_graphql_goes_to_the_dashboard_page(server: Server) -> None:
    """No credentials needed for the redirect; the page itself signs the user in."""
    html = {"Accept": "text/html,application/xhtml+xml"}
    answer = httpx.get(server.base_url + "/graphql", headers=html)
    assert answer.status_code == 303 and answer.headers["location"] == "/graphiql"
    page = httpx.get(server.base_url + "/graphiql")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/graphiql"


async def subscribe(server: Server, headers: dict[str, str], payload: dict[str, str]) -> str:
    """Open a graphql-transport-ws connection: the first message's type, the close code, or the
    handshake's refusal (Strawberry refuses a cross-origin handshake itself)."""
    try:
        async with connect(ws_url(server), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                           additional_headers=headers) as ws:  # fmt: skip
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            return str(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"])
    except ConnectionClosed as closed:
        return f"closed {closed.rcvd.code if closed.rcvd else None}"
    except InvalidStatus as refused:
        return f"refused {refused.response.status_code}"


@pytest.mark.parametrize(
    ("origin", "with_token", "expected"),
    [("self", True, "connection_ack"), ("self", False, "closed 4403"),
     ("evil", True, "refused 403"), (None, True, "closed 4403")],
    ids=["origin-and-token", "no-token", "foreign-origin", "no-origin"],
)  # fmt: skip
async def test_websockets_need_the_origin_and_the_token(
    server: Server, origin: str | None, with_token: bool, expected: str
) -> None:
    client, _ = signed_in(server)
    token = token_of(client)
    headers = {"Cookie": f"phospho_session={client.cookies.get('phospho_session')}"}
    client.close()
    if origin is not None:
        headers["Origin"] = server.base_url if origin == "self" else "https://evil.example"
    assert await subscribe(server, headers, token if with_token else {}) == expected


async def test_subscriptions_accept_the_cookie(server: Server) -> None:
    client, key = signed_in(server)
    cookie = f"phospho_session={client.cookies.get('phospho_session')}"
    token = token_of(client)
    client.close()
    headers = {"Cookie": cookie, "Origin": server.base_url}
    async with connect(ws_url(server), subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
                       additional_headers=headers) as ws:  # fmt: skip
        await ws.send(json.dumps({"type": "connection_init", "payload": token}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription { eventLogged { input } }"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        await asyncio.sleep(0.2)
        await asyncio.to_thread(log, server, key, "pushed to the cookie")
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["payload"]["data"]["eventLogged"]["input"] == "pushed to the cookie"


def test_the_graphql_page_keeps_the_csp_with_a_fresh_style_nonce(server: Server) -> None:
    """Script from this server only; the one addition for styles is a nonce, new each time."""
    client, _ = signed_in(server)
    pages = [client.get("/graphiql") for _ in range(2)]
    token = token_of(client)["X-CSRF-Token"]
    client.close()
    nonces = []
    for page in pages:
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe" not in policy
        nonce = re.search(r"style-src 'self' 'nonce-([\w-]+)';", policy).group(1)  # type: ignore[union-attr]
        assert f'data-style-nonce="{nonce}"' in page.text
        assert f'data-csrf="{token}"' in page.text  # what GraphiQL sends as X-CSRF-Token
        assert "<script>" not in page.text and "unpkg" not in page.text
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
