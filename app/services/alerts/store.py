"""The alert tables' writes that must happen once: a rule's state change with its history row
and deliveries (one transaction, claimed by a conditional UPDATE), and a delivery's lease.

Exactly once across processes: every process evaluates every rule, but a state change is
recorded by `UPDATE alert_rules SET state = new WHERE id = ? AND state = old` and only the
process whose UPDATE changed the row (count 1) writes the history row and sends the messages;
the others' UPDATE finds the new state and changes nothing (PostgreSQL re-checks the WHERE
after waiting for the first transaction's row lock; SQLite has one writer at a time). The
same statement on both databases: no dialect branch. Deliveries are leased the same way
(`claim_delivery`), so that a delivery left pending by a process that died is taken over by
another once its lease has passed, and never sent by two at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.db import WRITER
from models import AlertDelivery, AlertEvent, AlertRule, AlertRuleDestination

# A delivery of three tries (timeouts and waits included) ends well within this.
LEASE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change a process has claimed: its history row and the deliveries to send."""

    event_id: int
    delivery_ids: tuple[int, ...]


async def claim_transition(
    rule: AlertRule, new_state: str, value: float | None, message: str, now: datetime
) -> Transition | None:
    """Record `rule`'s change from the state it was read in to `new_state`, with the alert
    event and one pending delivery per destination, leased to this process; None when
    another process recorded a change first."""
    kind = "firing" if new_state == "firing" else "resolved"
    async with in_transaction(WRITER) as conn:
        changed = await (
            AlertRule.filter(id=rule.id, state=rule.state)
            .using_db(conn)
            .update(state=new_state, state_changed_at=now, last_value=value, last_evaluated_at=now)
        )
        if changed != 1:
            return None
        event = await AlertEvent.create(
            project_id=rule.project_id, rule_id=rule.id, rule_name=rule.name, kind=kind,
            value=value, threshold=rule.threshold, message=message, created_at=now, using_db=conn,
        )  # fmt: skip
        targets = await AlertRuleDestination.filter(rule_id=rule.id).using_db(conn).all()
        ids = []
        for target in targets:
            delivery = await AlertDelivery.create(
                event_id=event.id, destination_id=target.destination_id, lease_until=now + LEASE,
                using_db=conn,
            )  # fmt: skip
            ids.append(delivery.id)
    rule.state = new_state
    return Transition(event.id, tuple(ids))


async def note_values(values: list[tuple[AlertRule, float | None]], now: datetime) -> None:
    """Keep the values of a pass's evaluations that changed no state (shown in Settings), in
    one transaction: on SQLite every commit beside the ingest writer takes the database lock
    and syncs, so a pass over many rules commits once, not once per rule."""
    if not values:
        return
    async with in_transaction(WRITER) as conn:
        for rule, value in values:
            await (
                AlertRule.filter(id=rule.id)
                .using_db(conn)
                .update(last_value=value, last_evaluated_at=now)
            )


async def test_event(
    project_id: int, destination_id: int, message: str, now: datetime
) -> Transition:
    """A test message to one destination: its history row and leased delivery."""
    async with in_transaction(WRITER) as conn:
        event = await AlertEvent.create(
            project_id=project_id, rule_id=None, rule_name="(test)", kind="test",
            message=message, created_at=now, using_db=conn,
        )  # fmt: skip
        delivery = await AlertDelivery.create(
            event_id=event.id, destination_id=destination_id, lease_until=now + LEASE,
            using_db=conn,
        )  # fmt: skip
    return Transition(event.id, (delivery.id,))


async def claim_delivery(delivery_id: int, now: datetime) -> bool:
    """Take over a pending delivery whose lease has passed (another process died sending it)."""
    changed = await AlertDelivery.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now), id=delivery_id, status="pending"
    ).update(lease_until=now + LEASE)
    return changed == 1


async def abandoned_deliveries(now: datetime, limit: int = 100) -> list[int]:
    """Pending deliveries whose lease has passed."""
    rows = await AlertDelivery.filter(status="pending", lease_until__lt=now).limit(limit)
    return [row.id for row in rows]
