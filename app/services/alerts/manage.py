"""A project's alert rules and destinations: create, change, delete, list, and the history.

Callers name the project they act for: GraphQL the API key's project, the dashboard the
signed-in user's (its `*_as` functions check the role first, `Action.MANAGE_ALERTS`).
Ids of another project are NotFound, as if they did not exist.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from app.db import WRITER
from app.errors import Invalid, NotFound
from app.services.alerts.rules import (
    MAX_DESTINATIONS,
    MAX_RULES,
    NAME_MAX,
    DestinationKind,
    RuleSpec,
)
from app.services.alerts.urls import check_url
from app.services.roles import Action, require
from models import AlertDelivery, AlertDestination, AlertEvent, AlertRule, AlertRuleDestination

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class NewDestination:
    """A destination just created, with its secret (shown this once)."""

    destination: AlertDestination
    secret: str


@dataclass(slots=True)
class RuleView:
    """A rule with the ids and names of its destinations."""

    rule: AlertRule
    destinations: list[AlertDestination] = field(default_factory=list)


@dataclass(slots=True)
class EventView:
    """An alert event with its deliveries (and their destinations' names)."""

    event: AlertEvent
    deliveries: list[tuple[AlertDelivery, str]] = field(default_factory=list)


async def create_destination(
    project_id: int, name: str, kind: str, url: str, *, allow_private: bool
) -> NewDestination:
    """Check and store a destination; its secret is generated here."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise Invalid(f"name: 1 to {NAME_MAX} characters")
    try:
        found_kind = DestinationKind(kind.strip().lower())
    except ValueError:
        raise Invalid("kind must be webhook or slack") from None
    await check_url(url, allow_private=allow_private)
    if await AlertDestination.filter(project_id=project_id).count() >= MAX_DESTINATIONS:
        raise Invalid(f"a project has at most {MAX_DESTINATIONS} destinations")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    made = await AlertDestination.create(
        project_id=project_id, name=name, kind=found_kind.value, url=url.strip(), secret=secret
    )
    return NewDestination(made, secret)


async def destination_of(project_id: int, destination_id: int) -> AlertDestination:
    """One of the project's destinations; NotFound otherwise."""
    found = await AlertDestination.get_or_none(id=destination_id, project_id=project_id)
    if found is None:
        raise NotFound("destination not found")
    return found


async def delete_destination(project_id: int, destination_id: int) -> None:
    """Delete a destination (rules stop sending to it; the history keeps its deliveries)."""
    await (await destination_of(project_id, destination_id)).delete()


async def list_destinations(project_id: int) -> list[AlertDestination]:
    """The project's destinations, oldest first."""
    return await AlertDestination.filter(project_id=project_id).order_by("id")


async def _destination_ids(project_id: int, ids: list[int]) -> list[int]:
    wanted = sorted(set(ids))
    found = await AlertDestination.filter(project_id=project_id, id__in=wanted).values_list(
        "id", flat=True
    )
    missing = set(wanted) - {int(str(i)) for i in found}
    if missing:
        raise Invalid(f"destination {min(missing)} not found")
    return wanted


async def create_rule(project_id: int, spec: RuleSpec, destination_ids: list[int]) -> RuleView:
    """Store a rule (state "ok") sending to the given destinations of the project."""
    ids = await _destination_ids(project_id, destination_ids)
    if await AlertRule.filter(project_id=project_id).count() >= MAX_RULES:
        raise Invalid(f"a project has at most {MAX_RULES} alert rules")
    async with in_transaction(WRITER) as conn:
        rule = await AlertRule.create(
            project_id=project_id, name=spec.name, metric=spec.metric.value, model=spec.model,
            window_seconds=spec.window_seconds, comparison=spec.comparison.value,
            threshold=spec.threshold, enabled=spec.enabled, using_db=conn,
        )  # fmt: skip
        for destination_id in ids:
            await AlertRuleDestination.create(
                rule_id=rule.id, destination_id=destination_id, using_db=conn
            )
    return await get_rule(project_id, rule.id)


async def update_rule(
    project_id: int, rule_id: int, spec: RuleSpec, destination_ids: list[int] | None
) -> RuleView:
    """Replace a rule's definition (and destinations, when given); its state stays, and the
    next evaluation resolves it if the new condition no longer holds."""
    rule = (await get_rule(project_id, rule_id)).rule
    ids = None if destination_ids is None else await _destination_ids(project_id, destination_ids)
    async with in_transaction(WRITER) as conn:
        await AlertRule.filter(id=rule.id).using_db(conn).update(
            name=spec.name, metric=spec.metric.value, model=spec.model,
            window_seconds=spec.window_seconds, comparison=spec.comparison.value,
            threshold=spec.threshold, enabled=spec.enabled,
        )  # fmt: skip
        if ids is not None:
            await AlertRuleDestination.filter(rule_id=rule.id).using_db(conn).delete()
            for destination_id in ids:
                await AlertRuleDestination.create(
                    rule_id=rule.id, destination_id=destination_id, using_db=conn
                )
    return await get_rule(project_id, rule.id)


async def set_rule_enabled(project_id: int, rule_id: int, enabled: bool) -> None:
    """Pause a rule (it is not evaluated; a firing one stays firing until resumed) or resume
    it."""
    rule = (await get_rule(project_id, rule_id)).rule
    await AlertRule.filter(id=rule.id).update(enabled=enabled)


async def delete_rule(project_id: int, rule_id: int) -> None:
    """Delete a rule; its history stays (under the rule's name)."""
    await (await get_rule(project_id, rule_id)).rule.delete()


async def get_rule(project_id: int, rule_id: int) -> RuleView:
    """One of the project's rules; NotFound otherwise."""
    rule = await AlertRule.get_or_none(id=rule_id, project_id=project_id)
    if rule is None:
        raise NotFound("alert rule not found")
    return (await _with_destinations([rule]))[0]


async def list_rules(project_id: int) -> list[RuleView]:
    """The project's rules, oldest first, with their destinations."""
    return await _with_destinations(await AlertRule.filter(project_id=project_id).order_by("id"))


async def _with_destinations(rules: list[AlertRule]) -> list[RuleView]:
    views = {rule.id: RuleView(rule) for rule in rules}
    if not views:
        return []
    links = await AlertRuleDestination.filter(rule_id__in=list(views)).prefetch_related(
        "destination"
    )
    for link in sorted(links, key=lambda link: link.destination_id):
        views[link.rule_id].destinations.append(link.destination)
    return list(views.values())


async def list_events(
    project_id: int, first: int = 50, before: int | None = None, rule_id: int | None = None
) -> list[EventView]:
    """The project's alert history, newest first (keyset: events older than id `before`),
    with each event's deliveries."""
    query = AlertEvent.filter(project_id=project_id)
    if before is not None:
        query = query.filter(id__lt=before)
    if rule_id is not None:
        query = query.filter(rule_id=rule_id)
    events = await query.order_by("-id").limit(max(1, min(first, MAX_PAGE)))
    views = {event.id: EventView(event) for event in events}
    if views:
        deliveries = await AlertDelivery.filter(event_id__in=list(views)).order_by("id")
        names = {
            d.id: d.name
            for d in await AlertDestination.filter(
                id__in=list({x.destination_id for x in deliveries if x.destination_id})
            )
        }
        for delivery in deliveries:
            name = names.get(delivery.destination_id or 0, "(deleted)")
            views[delivery.event_id].deliveries.append((delivery, name))
    return list(views.values())


async def require_manager(user_id: int, project_id: int) -> None:
    """Forbidden unless the user owns the project (NotFound for a non-member)."""
    await require(user_id, project_id, Action.MANAGE_ALERTS)


def evaluated_text(at: datetime | None) -> str:
    """When a rule was last evaluated, for pages."""
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "not yet"
