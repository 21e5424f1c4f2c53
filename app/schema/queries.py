"""The Query root: lists (keyset connections, newest first), single objects, the project."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import strawberry
from strawberry.permission import BasePermission

from app.errors import NotFound
from app.schema.alerts import AlertDestination, AlertEvent, AlertRule, to_id
from app.schema.context import PhosphoInfo
from app.schema.inputs import EventFilter, FeedbackFilter, SessionFilter, page_size
from app.schema.metrics import (
    METRICS_DESCRIPTION,
    Metrics,
    MetricsBucket,
    MetricsGroupBy,
    read_metrics,
)
from app.schema.permissions import ProjectKey
from app.schema.selection import event_text
from app.schema.types import (
    PAGE_NODE,
    Connection,
    EndUser,
    Event,
    Feedback,
    Project,
    Session,
    connection,
    events_connection,
    mirror,
)
from app.services import reads
from app.services.alerts import manage

AUTH: list[type[BasePermission]] = [ProjectKey]


@strawberry.type
class Query:
    """What a project's API key can read."""

    @strawberry.field(permission_classes=AUTH, description="Events, newest first (max 100).")
    async def events(
        self,
        info: PhosphoInfo,
        first: int | None = 50,
        after: str | None = None,
        filter: EventFilter | None = None,
    ) -> Connection[Event]:
        ctx = info.context
        project_id = ctx.project_id
        wanted = filter.to_service() if filter else reads.EventFilter()
        text = event_text(info, PAGE_NODE)
        page = await reads.list_events(
            project_id, first=page_size(first), after=after, filter=wanted, text=text,
            budget=ctx.budget,
        )  # fmt: skip
        return await events_connection(info, page, lambda: reads.count_events(project_id, wanted))

    @strawberry.field(permission_classes=AUTH, description="One event; null when unknown.")
    async def event(self, info: PhosphoInfo, id: strawberry.ID) -> Event | None:
        ctx = info.context
        try:
            view = await reads.get_event(
                ctx.project_id, id, text=event_text(info), budget=ctx.budget
            )
        except NotFound:
            return None
        return Event.from_view(view)

    @strawberry.field(permission_classes=AUTH, description="Sessions, most recently active first.")
    async def sessions(
        self,
        info: PhosphoInfo,
        first: int | None = 50,
        after: str | None = None,
        filter: SessionFilter | None = None,
    ) -> Connection[Session]:
        project_id = info.context.project_id
        wanted = filter.to_service() if filter else reads.SessionFilter()
        page = await reads.list_sessions(
            project_id, first=page_size(first), after=after, filter=wanted
        )
        return connection(page, Session.from_view, lambda: reads.count_sessions(project_id, wanted))

    @strawberry.field(permission_classes=AUTH, description="One session; null when unknown.")
    async def session(self, info: PhosphoInfo, id: str) -> Session | None:
        try:
            return Session.from_view(await reads.get_session(info.context.project_id, id))
        except NotFound:
            return None

    @strawberry.field(permission_classes=AUTH, description="Feedback entries, newest first.")
    async def feedback(
        self,
        info: PhosphoInfo,
        first: int | None = 50,
        after: str | None = None,
        filter: FeedbackFilter | None = None,
    ) -> Connection[Feedback]:
        ctx = info.context
        project_id = ctx.project_id
        wanted = filter.to_service() if filter else reads.FeedbackFilter()
        page = await reads.list_feedback(
            project_id, first=page_size(first), after=after, filter=wanted, budget=ctx.budget
        )
        return connection(
            page, Feedback.from_view, lambda: reads.count_feedback(project_id, wanted)
        )

    @strawberry.field(permission_classes=AUTH, description="End users, most recently seen first.")
    async def users(
        self, info: PhosphoInfo, first: int | None = 50, after: str | None = None
    ) -> Connection[EndUser]:
        project_id = info.context.project_id
        page = await reads.list_end_users(project_id, first=page_size(first), after=after)

        async def count() -> int:
            return (await reads.project_totals(project_id)).end_users

        return connection(page, partial(mirror, EndUser), count)

    @strawberry.field(permission_classes=AUTH, description="The API key's project.")
    async def project(self, info: PhosphoInfo) -> Project:
        project_id = info.context.project_id
        name = await reads.project_name(project_id)
        return Project(id=strawberry.ID(str(project_id)), name=name)

    @strawberry.field(permission_classes=AUTH, description=METRICS_DESCRIPTION)
    async def metrics(
        self,
        info: PhosphoInfo,
        since: datetime,
        until: datetime,
        bucket: MetricsBucket | None = None,
        group_by: MetricsGroupBy = MetricsGroupBy.NONE,
    ) -> Metrics:
        project_id = info.context.project_id
        return await read_metrics(project_id, since, until, bucket, group_by)

    @strawberry.field(permission_classes=AUTH, description="The project's alert rules.")
    async def alert_rules(self, info: PhosphoInfo) -> list[AlertRule]:
        return [AlertRule.of(view) for view in await manage.list_rules(info.context.project_id)]

    @strawberry.field(permission_classes=AUTH, description="Where alert messages go.")
    async def alert_destinations(self, info: PhosphoInfo) -> list[AlertDestination]:
        found = await manage.list_destinations(info.context.project_id)
        return [AlertDestination.of(row) for row in found]

    @strawberry.field(
        permission_classes=AUTH,
        description="The alert history, newest first: at most `limit` (1-100) events older "
        "than the event `before` (the last id of the previous page), of one rule or all.",
    )
    async def alert_events(
        self,
        info: PhosphoInfo,
        limit: int = 50,
        before: strawberry.ID | None = None,
        rule_id: strawberry.ID | None = None,
    ) -> list[AlertEvent]:
        views = await manage.list_events(
            info.context.project_id, limit,
            None if before is None else to_id(before, "before"),
            None if rule_id is None else to_id(rule_id, "ruleId"),
        )  # fmt: skip
        return [AlertEvent.of(view) for view in views]
