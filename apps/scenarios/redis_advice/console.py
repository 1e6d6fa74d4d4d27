"""Admin console pages of the Redis targets (engine/targets.py: admin only, every write
audited); what is particular to Redis is how an instance is tested."""

from __future__ import annotations

from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from apps.knowledge.crypto import SecretsUnreadable
from apps.scenarios.engine.targets import Kind
from apps.scenarios.redis_advice import actions, collect
from apps.scenarios.redis_advice.forms import RedisTargetForm
from apps.scenarios.redis_advice.models import RedisTarget


def probe(target: RedisTarget) -> str:
    """Connects and reads INFO: whether URL and password work."""
    facts = collect.probe(actions.connection(target))
    return gettext_now("%(name)s answers: Redis %(version)s, %(role)s, %(memory)s used.") % {
        "name": target.name,
        "version": facts["redis_version"],
        "role": facts["role"],
        "memory": facts["used_memory_human"],
    }


KIND = Kind(
    model=RedisTarget,
    form=RedisTargetForm,
    namespace="redis_targets",
    list_template="scenarios/console_redis_targets.html",
    add_title=_("Add Redis target"),
    delete_question=_("Delete this Redis target?"),
    saved=_("Redis target saved."),
    deleted=_("Redis target deleted."),
    probe=probe,
    failures=(collect.Unreachable, SecretsUnreadable),
)
