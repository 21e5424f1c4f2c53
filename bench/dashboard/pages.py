"""THE table of what the bench times: every page and fragment of the dashboard.

Add a row for a new page or fragment: (name, path, htmx). `{placeholders}` in the path are
filled from `seed.facts` (ids and cursors found in the seeded data); `htmx` sends the headers
htmx sends (HX-Request), for a fragment that the same URL answers as a whole page otherwise;
`target` adds HX-Target (a detail opened into the lists' side panel: "panel").
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote


class Page(NamedTuple):
    """One timed GET."""

    name: str
    path: str
    htmx: bool = False
    target: str | None = None


REFERENCE = Page("reference: GET /api/v1/health", "/api/v1/health")

PAGES: tuple[Page, ...] = (
    # Overview: each range, a custom range, and the data its charts fetch (htmx-era JSON).
    Page("overview (24 h, default)", "/"),
    Page("overview 1 h", "/?range=1h"),
    Page("overview 7 d", "/?range=7d"),
    Page("overview 30 d", "/?range=30d"),
    Page("overview custom 10 d, bucket 1 h", "/?since={custom_since}&bucket=1h"),
    Page("overview data 1 h", "/overview/data?range=1h"),
    Page("overview data 24 h", "/overview/data?range=24h"),
    Page("overview data 7 d", "/overview/data?range=7d"),
    Page("overview data 30 d", "/overview/data?range=30d"),
    # Events: the first page, each filter, a page deep in the list, text search.
    Page("events", "/events"),
    Page("events, model (5% of events)", "/events?model=acme-support-7b"),
    Page("events, end user (heaviest)", "/events?user={heavy_user}"),
    Page("events, end user (typical)", "/events?user={user}"),
    Page("events, session", "/events?session={session}"),
    Page("events, feedback negative", "/events?feedback=negative"),
    Page("events, feedback none", "/events?feedback=none"),
    Page("events, status error", "/events?status=error"),
    Page("events, tag prod (20%)", "/events?tag=prod"),
    Page("events, tag vip (0.1%)", "/events?tag={rare_tag}"),
    Page("events, one day (15 d ago)", "/events?since={day_since}&until={day_until}"),
    Page("events, model + negative", "/events?model=gpt-4o&feedback=negative"),
    Page("events, load more 15 d deep", "/events?after={event_cursor}", htmx=True),
    Page("events, search rare word", "/events?q={rare_word}"),
    Page("events, search common word", "/events?q={common_word}"),
    Page("events, search two words", "/events?q={common_word}+{rare_word}"),
    Page("events, search rare word, best match", "/events?q={rare_word}&sort=best"),
    Page("events, search common word, best match", "/events?q={common_word}&sort=best"),
    Page("event detail", "/events/{event}"),
    Page("event in the side panel", "/events/{event}", htmx=True, target="panel"),
    # Sessions: the list, its filter, load more, a replay.
    Page("sessions", "/sessions"),
    Page("sessions, end user (heaviest)", "/sessions?user={heavy_user}"),
    Page("sessions, load more 15 d deep", "/sessions?after={session_cursor}", htmx=True),
    Page("sessions, one day (15 d ago)", "/sessions?since={day_since}&until={day_until}"),
    Page("session replay", "/sessions/{session}"),
    Page("session replay in the side panel", "/sessions/{session}", htmx=True, target="panel"),
    # End users: the list, load more, one end user's page.
    Page("users", "/users"),
    Page("users, load more (200 in)", "/users?after={user_cursor}"),
    Page("end user page (heaviest)", "/users/profile?user={heavy_user}"),
    Page("end user page (typical)", "/users/profile?user={user}"),
    Page(
        "end user in the side panel", "/users/profile?user={heavy_user}", htmx=True, target="panel"
    ),
    Page("users, one end user", "/users?user={heavy_user}"),
    Page("users, last seen one day (15 d ago)", "/users?since={day_since}&until={day_until}"),
    # The GraphQL page (GraphiQL from vendored files).
    Page("GraphQL page", "/graphiql"),
    # Settings.
    Page("settings: API keys", "/settings/keys"),
    Page("settings: project", "/settings/project"),
    Page("settings: alerts", "/settings/alerts"),
)


def resolve(page: Page, facts: dict[str, str]) -> Page:
    """`page` with its placeholders filled, each value URL-quoted."""
    quoted = {name: quote(value, safe="") for name, value in facts.items()}
    return page._replace(path=page.path.format(**quoted))
