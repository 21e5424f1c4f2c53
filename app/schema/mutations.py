"""The Mutation root: the same write path as REST (`Ingestor`), returning what was stored.

An API key may run every mutation on its project. A signed-in dashboard user (the login
cookie, app/schema/login.py) may run those the roles table gives their role
(`Context.acting`: alerts and erasure, owners only); logging stays with keys (`writer`)."""

from __future__ import annotations

import strawberry
from strawberry.permission import BasePermission

from app.errors import NotFound
from app.schema.alerts import (
    AlertDestination,
    AlertRule,
    AlertRuleInput,
    CreatedAlertDestination,
    to_id,
)
from app.schema.context import Context, PhosphoInfo
from app.schema.inputs import AddFeedbackInput, LogEventInput
from app.schema.inputs_check import check_input
from app.schema.permissions import ProjectKey
from app.schema.selection import event_text
from app.schema.types import Event, Feedback
from app.services import reads
from app.services.alerts import manage
from app.services.alerts.rules import DestinationKind
from app.services.erasure import forget_end_user
from app.services.ingest import EventResult
from app.services.reads import FeedbackView
from app.services.roles import Action

AUTH: list[type[BasePermission]] = [ProjectKey]
ALERTS = Action.MANAGE_ALERTS


@strawberry.type(description="What erasing an end user deleted (zeros when nothing was left).")
class EndUserErasure:
    """The counts of `Erasure` (app/services/erasure.py)."""

    user_id: str
    events: int
    feedback: int
    event_tags: int
    sessions: int = strawberry.field(description="Sessions left without events, deleted.")
    sessions_updated: int = strawberry.field(
        description="Sessions that keep other users' events, no longer naming the end user."
    )
    end_users: int
    user_rollups: int


def _with_token(event: Event, ctx: Context, result: EventResult) -> Event:
    """The logged event with its feedback token (signed as the key that logged it)."""
    tokens = ctx.ingestor.feedback_tokens
    event.feedback_token = tokens.sign(ctx.writer, result.event_id, result.created_at)
    return event


@strawberry.type
class Mutation:
    """Writes; each is acknowledged only once durably stored, exactly as over REST."""

    @strawberry.mutation(permission_classes=AUTH, description="Log one event.")
    async def log_event(self, info: PhosphoInfo, input: LogEventInput) -> Event:
        ctx = info.context
        body = input.to_body()
        check_input(body)
        result = await ctx.ingestor.log_event(ctx.writer, body)
        text = event_text(info)
        view = await reads.get_event(ctx.project_id, result.event_id, text=text, budget=ctx.budget)
        return _with_token(Event.from_view(view), ctx, result)

    @strawberry.mutation(permission_classes=AUTH, description="Log events all-or-nothing.")
    async def log_events(self, info: PhosphoInfo, input: list[LogEventInput]) -> list[Event]:
        ctx = info.context
        events = [event.to_body() for event in input]
        check_input(events)
        results = await ctx.ingestor.log_events(ctx.writer, {"events": events})
        ids = [r.event_id for r in results]
        text = event_text(info)
        stored = await reads.events_by_ids(ctx.project_id, ids, text=text, budget=ctx.budget)
        missing = [r.event_id for r in results if r.event_id not in stored]
        if missing:  # committed a moment ago: only a concurrent deletion could cause this
            raise NotFound("event not found")
        return [_with_token(Event.from_view(stored[r.event_id]), ctx, r) for r in results]

    @strawberry.mutation(permission_classes=AUTH, description="Add feedback to an event.")
    async def add_feedback(self, info: PhosphoInfo, input: AddFeedbackInput) -> Feedback:
        ctx = info.context
        body = input.to_body()
        check_input(body)
        result = await ctx.ingestor.add_feedback(ctx.writer, input.event_id, body)
        view = FeedbackView(
            id=result.feedback_id,
            event_id=result.event_id,
            score=result.score,
            comment=result.comment,
            created_at=result.created_at,
        )
        return Feedback.from_view(view)

    @strawberry.mutation(
        permission_classes=AUTH,
        description="Erase an end user (GDPR): its events, feedback, tags, sessions left "
        "empty and per-user metrics are deleted and its share of the project's metrics "
        "subtracted, in one transaction. A repeat returns zeros.",
    )
    async def delete_end_user(self, info: PhosphoInfo, user_id: str) -> EndUserErasure:
        ctx = info.context
        erase = ctx.acting(Action.ERASE_END_USER)
        erased = await forget_end_user(ctx.ingestor, erase.project_id, user_id, ("userId",))
        return EndUserErasure(user_id=user_id, **erased.as_dict())

    @strawberry.mutation(
        permission_classes=AUTH, description="Add an alert rule (state ok until it fires)."
    )
    async def create_alert_rule(self, info: PhosphoInfo, input: AlertRuleInput) -> AlertRule:
        project_id = info.context.acting(ALERTS).project_id
        view = await manage.create_rule(project_id, input.spec(), input.ids() or [])
        return AlertRule.of(view)

    @strawberry.mutation(
        permission_classes=AUTH,
        description="Replace an alert rule's definition; its state stays until the next "
        "evaluation.",
    )
    async def update_alert_rule(
        self, info: PhosphoInfo, id: strawberry.ID, input: AlertRuleInput
    ) -> AlertRule:
        project_id = info.context.acting(ALERTS).project_id
        view = await manage.update_rule(project_id, to_id(id, "id"), input.spec(), input.ids())
        return AlertRule.of(view)

    @strawberry.mutation(
        permission_classes=AUTH, description="Delete an alert rule (its history stays)."
    )
    async def delete_alert_rule(self, info: PhosphoInfo, id: strawberry.ID) -> bool:
        await manage.delete_rule(info.context.acting(ALERTS).project_id, to_id(id, "id"))
        return True

    @strawberry.mutation(
        permission_classes=AUTH,
        description="Add a destination (http(s) URL; internal addresses refused unless the "
        "server allows them). Its signing secret is in the answer, and only there.",
    )
    async def create_alert_destination(
        self,
        info: PhosphoInfo,
        name: str,
        kind: DestinationKind,
        url: str,
    ) -> CreatedAlertDestination:
        project_id = info.context.acting(ALERTS).project_id
        allow = info.context.allow_private_webhooks
        made = await manage.create_destination(
            project_id, name, DestinationKind(kind).value, url, allow_private=allow
        )
        return CreatedAlertDestination(
            destination=AlertDestination.of(made.destination), secret=made.secret
        )

    @strawberry.mutation(permission_classes=AUTH, description="Delete a destination.")
    async def delete_alert_destination(self, info: PhosphoInfo, id: strawberry.ID) -> bool:
        await manage.delete_destination(info.context.acting(ALERTS).project_id, to_id(id, "id"))
        return True
