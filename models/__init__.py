"""Tortoise models, one aggregate per module. `MODEL_MODULES` is what Tortoise and aerich load."""

from models.alert import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
    AlertRuleDestination,
)
from models.api_key import ApiKey
from models.end_user import EndUser
from models.event import Event, EventTag
from models.feedback import Feedback
from models.login import LoginAttempt, LoginSession
from models.project import Membership, Project
from models.rollup import MetricRollup, RollupFold, UserRollup
from models.session import Session
from models.user import User

MODEL_MODULES = [
    "models.project",
    "models.user",
    "models.api_key",
    "models.session",
    "models.event",
    "models.end_user",
    "models.feedback",
    "models.login",
    "models.rollup",
    "models.alert",
]

__all__ = [
    "MODEL_MODULES",
    "AlertDelivery",
    "AlertDestination",
    "AlertEvent",
    "AlertRule",
    "AlertRuleDestination",
    "ApiKey",
    "EndUser",
    "Event",
    "EventTag",
    "Feedback",
    "LoginAttempt",
    "LoginSession",
    "Membership",
    "MetricRollup",
    "Project",
    "RollupFold",
    "Session",
    "User",
    "UserRollup",
]
