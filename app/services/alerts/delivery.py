"""Sending an alert message: the body, its signature, three tries with backoff, the outcome.

A generic webhook gets a JSON body; a Slack-compatible one `{"text": …}`. Both carry
`X-Phospho-Timestamp` (Unix seconds when the try was signed) and `X-Phospho-Signature:
sha256=<hex>`, the HMAC-SHA256 with the destination's secret of the bytes
`<timestamp>.<body>`: a receiver recomputes it over the raw body and refuses a timestamp
older than a few minutes, so a captured message cannot be replayed later (README, "Alerts").
`X-Phospho-Delivery` is the delivery's id, the same on every try (to drop duplicates).

Tries: up to 3; any answer other than 2xx, a timeout or a connection error is a failure;
the waits are `PHOSPHO_WEBHOOK_BACKOFF_SECONDS` then twice that. Redirects are not followed
(a 3xx is a failure: following one could lead inside the network). Each try connects to the
address checked just before it (app/services/alerts/urls.py).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from app import instruments
from app.errors import Invalid
from app.services.alerts.urls import check_url
from models import AlertDelivery, AlertDestination, AlertEvent, AlertRule, Project

log = logging.getLogger("phospho.alerts")

TRIES = 3
ERROR_MAX = 500  # characters of an error kept


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """What sending needs of the settings."""

    allow_private: bool = False
    timeout: float = 10.0
    backoff: float = 2.0


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: making one loads the CA bundle (~30 ms)."""
    return httpx.create_ssl_context()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Phospho-Signature` value of a body sent at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def payload(event: AlertEvent, destination: AlertDestination) -> bytes:
    """The body sent to `destination` for `event`."""
    if destination.kind == "slack":
        return orjson.dumps({"text": event.message})
    project = await Project.get(id=event.project_id)
    rule = await AlertRule.get_or_none(id=event.rule_id) if event.rule_id else None
    body: dict[str, Any] = {
        "type": f"alert.{event.kind}",
        "alert_event_id": event.id,
        "project": {"id": project.id, "name": project.name},
        "rule": None,
        "value": event.value,
        "threshold": event.threshold,
        "text": event.message,
        "at": event.created_at.astimezone(UTC).isoformat(),
    }
    if rule is not None:
        body["rule"] = {
            "id": rule.id, "name": rule.name, "metric": rule.metric, "model": rule.model,
            "window_seconds": rule.window_seconds, "comparison": rule.comparison,
            "threshold": rule.threshold,
        }  # fmt: skip
    return orjson.dumps(body)


async def deliver(delivery_id: int, settings: DeliverySettings) -> bool:
    """Send one leased delivery (up to TRIES tries) and record the outcome; whether it was
    delivered."""
    delivery = await AlertDelivery.get(id=delivery_id)
    destination = (
        await AlertDestination.get_or_none(id=delivery.destination_id)
        if delivery.destination_id
        else None
    )
    if destination is None:  # deleted meanwhile
        await _finish(delivery, None, "the destination was deleted", delivery.attempts)
        return False
    event = await AlertEvent.get(id=delivery.event_id)
    body = await payload(event, destination)
    error: str | None = None
    attempts = delivery.attempts
    for attempt in range(TRIES):
        if attempt:
            await asyncio.sleep(settings.backoff * 2 ** (attempt - 1))
        attempts += 1
        error = await _try(destination, delivery.id, body, settings)
        await AlertDelivery.filter(id=delivery.id).update(attempts=attempts, last_error=error)
        if error is None:
            break
    await _finish(delivery, destination, error, attempts)
    return error is None


async def _try(
    destination: AlertDestination, delivery_id: int, body: bytes, settings: DeliverySettings
) -> str | None:
    """One try: None when the receiver answered 2xx, else what went wrong."""
    try:
        target = await check_url(destination.url, allow_private=settings.allow_private)
    except Invalid as exc:
        return exc.message
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "phospho-alerts",
        "Host": target.host_header,
        "X-Phospho-Timestamp": stamp,
        "X-Phospho-Signature": sign(destination.secret, stamp, body),
        "X-Phospho-Delivery": str(delivery_id),
    }
    try:
        async with httpx.AsyncClient(
            timeout=settings.timeout, follow_redirects=False, verify=_tls()
        ) as client:
            answer = await client.post(
                target.url, content=body, headers=headers,
                extensions={"sni_hostname": target.server_name},
            )  # fmt: skip
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:ERROR_MAX] or type(exc).__name__
    if 200 <= answer.status_code < 300:
        return None
    return f"HTTP {answer.status_code}: {answer.text[:200]}"[:ERROR_MAX]


async def _finish(
    delivery: AlertDelivery,
    destination: AlertDestination | None,
    error: str | None,
    attempts: int,
) -> None:
    now = datetime.now(UTC)
    status = "delivered" if error is None else "failed"
    await AlertDelivery.filter(id=delivery.id).update(
        status=status, attempts=attempts, last_error=error,
        delivered_at=now if error is None else None, lease_until=None,
    )  # fmt: skip
    instruments.ALERT_DELIVERIES.labels(status).inc()
    if destination is None:
        return
    if error is None:
        await AlertDestination.filter(id=destination.id).update(last_success_at=now)
    else:
        log.warning("alert delivery %s to %s failed: %s", delivery.id, destination.name, error)
        await AlertDestination.filter(id=destination.id).update(last_error=error, last_error_at=now)
