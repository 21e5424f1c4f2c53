"""Projects in the dashboard: create, switch, rename, members; everything scoped to members."""

from __future__ import annotations

import re

from tests.harness import Server
from tests.test_dashboard_accounts import browser, csrf_of, sign_up


def project_ids(page: str) -> dict[str, int]:
    """Project name -> id, from the switch form's options."""
    return {
        name: int(pid) for pid, name in re.findall(r'<option value="(\d+)"[^>]*>([^<]+)<', page)
    }


def test_create_switch_and_rename_projects(server: Server) -> None:
    with browser(server) as client:
        email = sign_up(client)
        token = csrf_of(client.get("/settings/project").text)
        assert (
            client.post("/projects", data={"csrf_token": token, "name": "Second app"}).status_code
            == 303
        )
        page = client.get("/settings/project").text
        assert "<small>Second app</small>" in page, "a new project becomes the current one"
        ids = project_ids(page)
        assert set(ids) == {f"{email}&#39;s project", "Second app"}
        first = ids[f"{email}&#39;s project"]
        assert (
            client.post(
                "/projects/switch", data={"csrf_token": token, "project_id": first}
            ).status_code
            == 303
        )
        assert f"<small>{email}&#39;s project</small>" in client.get("/settings/project").text
        renamed = client.post(
            f"/projects/{first}/rename", data={"csrf_token": token, "name": "Renamed"}
        )
        assert renamed.status_code == 303
        assert "<small>Renamed</small>" in client.get("/settings/project").text


def test_owner_adds_a_member_who_then_sees_the_project(server: Server) -> None:
    with browser(server) as owner, browser(server) as guest:
        guest_email = sign_up(guest)
        sign_up(owner)
        page = owner.get("/settings/project").text
        token = csrf_of(page)
        project = next(iter(project_ids(page).values()))
        unknown = owner.post(
            f"/projects/{project}/members",
            data={"csrf_token": token, "email": "nobody@example.com"},
        )
        assert unknown.status_code == 422 and "must sign up first" in unknown.text
        added = owner.post(
            f"/projects/{project}/members", data={"csrf_token": token, "email": guest_email}
        )
        assert added.status_code == 303
        guest_page = guest.get("/settings/project").text
        assert project in project_ids(guest_page).values()
        guest_token = csrf_of(guest_page)
        assert (
            guest.post(
                "/projects/switch", data={"csrf_token": guest_token, "project_id": project}
            ).status_code
            == 303
        )
        refused = guest.post(
            f"/projects/{project}/rename", data={"csrf_token": guest_token, "name": "mine"}
        )
        assert refused.status_code == 403 and "only the project&#39;s owner" in refused.text


def test_another_users_project_is_a_404(server: Server) -> None:
    with browser(server) as alice, browser(server) as mallory:
        sign_up(alice)
        alice_project = next(iter(project_ids(alice.get("/settings/project").text).values()))
        sign_up(mallory)
        token = csrf_of(mallory.get("/settings/project").text)
        for path, data in [
            ("/projects/switch", {"project_id": str(alice_project)}),
            (f"/projects/{alice_project}/rename", {"name": "stolen"}),
            (f"/projects/{alice_project}/members", {"email": "x@example.com"}),
        ]:
            response = mallory.post(path, data={"csrf_token": token, **data})
            assert response.status_code == 404, path
        assert "stolen" not in alice.get("/settings/project").text
        assert "x@example.com" not in alice.get("/settings/project").text
