"""The alert evaluator: a task of the app's lifespan (app/factory.py) that evaluates every
enabled rule every `PHOSPHO_ALERT_EVALUATE_SECONDS` (60 by default).

A pass reads each rule's value from the rollups (`measure.Readings`, one read per project and
window), then moves its state: ok or resolved → firing when the condition holds, firing →
resolved when it no longer does (a window without a value, such as no latency at all, does
not hold). Only a change sends messages (`store.claim_transition`: once, whichever process
claims it), so a rule that stays firing sends nothing more. Deliveries run as tasks of their
own, so a slow receiver never delays the next pass; a pass also takes over deliveries another
process left pending (`store.abandoned_deliveries`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from app import instruments
from app.services.alerts import store
from app.services.alerts.delivery import DeliverySettings, deliver
from app.services.alerts.manage import destination_of
from app.services.alerts.measure import Readings
from app.services.alerts.rules import Comparison, Metric, describe
from app.services.sql import dialect
from app.settings import Settings
from models import AlertRule, Project

log = logging.getLogger("phospho.alerts")


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one pass did."""

    rules: int
    transitions: list[store.Transition]
    queries: int


def delivery_settings(settings: Settings) -> DeliverySettings:
    """What deliveries take from the settings."""
    return DeliverySettings(
        settings.webhook_allow_private,
        settings.webhook_timeout_seconds,
        settings.webhook_backoff_seconds,
    )


def next_state(state: str, holds: bool) -> str | None:
    """The state a rule moves to, or None when it stays."""
    if holds and state != "firing":
        return "firing"
    if not holds and state == "firing":
        return "resolved"
    return None


def message(
    rule: AlertRule, project: str, state: str, value: float | None, about: str | None
) -> str:
    """The text of a state change (Slack's `text`, the webhook's `text`)."""
    what = describe(Metric(rule.metric), rule.model, rule.window_seconds)
    op = Comparison(rule.comparison).symbol
    shown = "no value" if value is None else f"{value:.6g}"
    who = f" (end user {about})" if about else ""
    head = "FIRING" if state == "firing" else "RESOLVED"
    return (
        f"[phospho] {head}: {rule.name} in project {project}: {what} is {shown}{who}; "
        f"the rule fires when it is {op} {rule.threshold:g}"
    )


async def evaluate_once(now: datetime | None = None) -> PassReport:
    """Evaluate every enabled rule once; the transitions this process claimed (their
    deliveries still to send)."""
    now = now or datetime.now(UTC)
    rules = await AlertRule.filter(enabled=True).order_by("project_id", "id")
    readings = Readings(dialect(), now)
    names: dict[int, str] = {}
    claimed: list[store.Transition] = []
    noted: list[tuple[AlertRule, float | None]] = []
    for rule in rules:
        value, about = await readings.value(
            rule.project_id, Metric(rule.metric), rule.model, rule.window_seconds
        )
        holds = value is not None and Comparison(rule.comparison).holds(value, rule.threshold)
        new_state = next_state(rule.state, holds)
        if new_state is None:
            if value != rule.last_value:  # shown in Settings; unchanged values cost no write
                noted.append((rule, value))
            continue
        if rule.project_id not in names:
            names[rule.project_id] = (await Project.get(id=rule.project_id)).name
        text = message(rule, names[rule.project_id], new_state, value, about)
        transition = await store.claim_transition(rule, new_state, value, text, datetime.now(UTC))
        if transition is not None:
            instruments.ALERT_TRANSITIONS.labels(new_state).inc()
            claimed.append(transition)
    await store.note_values(noted, now)
    return PassReport(len(rules), claimed, readings.queries)


async def send_test(project_id: int, destination_id: int, settings: DeliverySettings) -> bool:
    """Send a test message to one of the project's destinations now; whether it arrived (the
    outcome and any error are recorded like an alert's)."""
    destination = await destination_of(project_id, destination_id)
    project = await Project.get(id=project_id)
    text = f"[phospho] Test message for {destination.name} in project {project.name}"
    transition = await store.test_event(project_id, destination.id, text, datetime.now(UTC))
    return await deliver(transition.delivery_ids[0], settings)


class Evaluator:
    """The background loop, and the deliveries it started."""

    def __init__(self, interval: float, settings: DeliverySettings) -> None:
        self.interval = interval
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[bool]] = set()

    def start(self) -> None:
        """Start the loop (in the app's lifespan, once the database is open)."""
        self._task = asyncio.create_task(self._loop(), name="phospho-alerts")

    async def stop(self) -> None:
        """Stop the loop and the deliveries in flight (their lease lets another process, or
        this one after a restart, send them)."""
        tasks = [t for t in (self._task, *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None

    def send(self, delivery_ids: tuple[int, ...]) -> None:
        """Send deliveries in tasks of their own."""
        for delivery_id in delivery_ids:
            task = asyncio.create_task(deliver(delivery_id, self.settings))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[bool]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("alert delivery failed", exc_info=task.exception())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                report = await evaluate_once()
                for transition in report.transitions:
                    self.send(transition.delivery_ids)
                for delivery_id in await store.abandoned_deliveries(datetime.now(UTC)):
                    if await store.claim_delivery(delivery_id, datetime.now(UTC)):
                        self.send((delivery_id,))
            except Exception:  # a fault is logged; the next pass tries again
                log.exception("alert evaluation failed")
