"""The roles table of the README, action by action, for an owner and a member, over HTTP."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.harness import Server
from tests.test_dashboard_accounts import browser, create_key, csrf_of, log_event, sign_up


@dataclass
class Project:
    """A project with an owner and a member, both signed in and looking at it."""

    server: Server
    id: int
    owner: httpx.Client
    member: httpx.Client

    def as_role(self, role: str) -> httpx.Client:
        """The signed-in client of `role`."""
        return self.owner if role == "owner" else self.member


@pytest.fixture(scope="module")
def project(server: Server) -> Iterator[Project]:
    """An owner's project to which a member was added (and switched)."""
    owner, member = browser(server), browser(server)
    member_email = sign_up(member)
    sign_up(owner)
    page = owner.get("/settings/project").text
    project_id = int(re.findall(r'<option value="(\d+)" selected', page)[0])
    added = owner.post(f"/projects/{project_id}/members",
                       data={"csrf_token": csrf_of(page), "email": member_email})  # fmt: skip
    assert added.status_code == 303
    token = csrf_of(member.get("/settings/project").text)
    switched = member.post("/projects/switch", data={"csrf_token": token, "project_id": project_id})
    assert switched.status_code == 303
    yield Project(server, project_id, owner, member)
    owner.close()
    member.close()


def post_form(client: httpx.Client, path: str, **data: str) -> httpx.Response:
    """POST a dashboard form with the page's CSRF token."""
    token = csrf_of(client.get("/settings/project").text)
    return client.post(path, data={"csrf_token": token, **data})


def create(p: Project, client: httpx.Client) -> httpx.Response:
    """Create an API key."""
    return post_form(client, "/settings/keys", name="by role")


def revoke(p: Project, client: httpx.Client) -> httpx.Response:
    """Revoke a key the owner just created (the key works on only if refused)."""
    key = create_key(p.owner)
    answer = post_form(client, f"/settings/keys/{key[:11]}/revoke")
    still = log_event(p.server, key)
    assert still == (401 if answer.status_code == 303 else 201), "the key's state must match"
    return answer


def rename(p: Project, client: httpx.Client) -> httpx.Response:
    """Rename the project."""
    return post_form(client, f"/projects/{p.id}/rename", name="renamed by role")


def add_member(p: Project, client: httpx.Client) -> httpx.Response:
    """Add a newly signed-up account as a member."""
    with browser(p.server) as newcomer:
        email = sign_up(newcomer)
    return post_form(client, f"/projects/{p.id}/members", email=email)


def erase_end_user(p: Project, client: httpx.Client) -> httpx.Response:
    """Erase an end user the owner's key just logged (its event stays unless it answers 200)."""
    user = f"end-user-{secrets.token_hex(4)}"
    key = create_key(p.owner)
    body = {"input": "q", "output": "a", "user_id": user}
    httpx.post(f"{p.server.base_url}/api/v1/events", json=body,
               headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    answer = post_form(client, "/users/erase", user=user)
    kept = p.server.query("SELECT COUNT(*) FROM events WHERE user_id = ?", user)[0][0]
    assert kept == (0 if answer.status_code == 200 else 1), "the user's state must match"
    return answer


def set_retention(p: Project, client: httpx.Client) -> httpx.Response:
    """Change how long the project keeps its events (Settings → Project)."""
    return post_form(client, f"/projects/{p.id}/retention", retention_days="90")


def add_alert_rule(p: Project, client: httpx.Client) -> httpx.Response:
    """Add an alert rule (Settings → Alerts)."""
    rule = {"name": "r", "metric": "events", "window": "5m", "comparison": "gt", "threshold": "1"}
    return post_form(client, "/settings/alerts/rules", **rule)


def read_pages(p: Project, client: httpx.Client) -> httpx.Response:
    """Read every page (the keys page answers)."""
    for path in ("/", "/events", "/sessions", "/users", "/settings/project", "/settings/alerts"):
        answer = client.get(path)
        assert answer.status_code == 200, path
    return client.get("/settings/keys")


def read_graphql(p: Project, client: httpx.Client) -> httpx.Response:
    """Query the project over GraphQL with the login cookie (and, as GraphiQL on the dashboard
    sends it, the session's CSRF token)."""
    token = csrf_of(client.get("/settings/project").text)
    return client.post("/graphql", json={"query": "{ project { name } }"},
                       headers={"X-CSRF-Token": token})  # fmt: skip


def live_stream(p: Project, client: httpx.Client) -> httpx.Response:
    """Open the overview's live stream."""
    with client.stream("GET", "/live/overview") as answer:
        return answer  # closed unread: only the status matters


Action = Callable[[Project, httpx.Client], httpx.Response]
# The README's table: action, then the status an owner and a member get.
TABLE: list[tuple[str, Action, int, int]] = [
    ("read every page", read_pages, 200, 200),
    ("read over GraphQL with the cookie", read_graphql, 200, 200),
    ("follow a live stream", live_stream, 200, 200),
    ("create an API key", create, 201, 403),
    ("revoke an API key", revoke, 303, 403),
    ("rename the project", rename, 303, 403),
    ("add a member", add_member, 303, 403),
    ("erase an end user's data", erase_end_user, 200, 403),
    ("change the data retention", set_retention, 303, 403),
    ("change the alerts", add_alert_rule, 303, 403),
]


@pytest.mark.parametrize("role", ["owner", "member"])
@pytest.mark.parametrize(("name", "action", "owner", "member"), TABLE, ids=[r[0] for r in TABLE])
def test_roles_table(
    project: Project, role: str, name: str, action: Action, owner: int, member: int
) -> None:
    answer = action(project, project.as_role(role))
    expected = owner if role == "owner" else member
    assert answer.status_code == expected, f"{role} may {'' if expected < 400 else 'not '}{name}"
    if expected == 403:
        assert "only the project&#39;s owner can" in answer.text


def test_a_member_sees_no_key_or_owner_forms(project: Project) -> None:
    create_key(project.owner)
    member_keys = project.member.get("/settings/keys").text
    owner_keys = project.owner.get("/settings/keys").text
    assert "Create API key" in owner_keys and "/revoke" in owner_keys
    assert "Create API key" not in member_keys and "/revoke" not in member_keys
    assert "its owner creates and revokes" in member_keys
    assert re.search(r"<code>ph_\w+…</code>", member_keys), "members still list the keys"
    member_settings = project.member.get("/settings/project").text
    assert "/rename" not in member_settings and "/members" not in member_settings
    assert "Your role: member" in member_settings


def test_a_member_creates_no_key_even_by_hand(project: Project) -> None:
    before = project.server.query("SELECT count(*) FROM api_keys WHERE project_id = ?", project.id)
    assert create(project, project.member).status_code == 403
    after = project.server.query("SELECT count(*) FROM api_keys WHERE project_id = ?", project.id)
    assert before == after
