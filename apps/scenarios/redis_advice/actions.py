"""Writes of the Redis targets (engine/targets.py, audited), the targets a user may use, and
where to connect to one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db.models import QuerySet

from apps.scenarios.engine import targets
from apps.scenarios.redis_advice.models import RedisTarget
from apps.scenarios.redis_advice.target import Target, parse_url


def usable_by(user: Any) -> QuerySet[RedisTarget]:
    return targets.usable_by(RedisTarget, user)


def connection(target: RedisTarget) -> Target:
    """Where to connect, with the decrypted password."""
    return replace(parse_url(target.url), password=target.password())


def save_target(actor: Any, *, target: RedisTarget | None, **fields: Any) -> RedisTarget:
    return targets.save(actor, target or RedisTarget(), **fields)
