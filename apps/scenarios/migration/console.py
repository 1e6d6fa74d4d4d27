"""Admin console pages of the RabbitMQ targets (engine/targets.py: admin only, every write
audited); what is particular to RabbitMQ is how a node is tested."""

from __future__ import annotations

from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from apps.knowledge.crypto import SecretsUnreadable
from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.targets import Kind
from apps.scenarios.migration import live
from apps.scenarios.migration.models import RabbitTarget
from apps.scenarios.migration.target_form import RabbitTargetForm


def probe(target: RabbitTarget) -> str:
    """Reads the node as the checklist would."""
    facts = live.read(target.url, target.username, target.password(), target.ca_file)
    text = gettext_now(
        "%(name)s answers: RabbitMQ %(version)s on Erlang %(erlang)s, %(n)d feature flags."
    ) % {
        "name": target.name,
        "version": facts["version"],
        "erlang": facts["erlang"],
        "n": len(facts.get("feature_flags") or []),
    }
    if "feature_flags" in facts.get("unread", []):
        text += " " + gettext_now(
            "Feature flags could not be read: the user needs the administrator tag."
        )
    return text


KIND = Kind(
    model=RabbitTarget,
    form=RabbitTargetForm,
    namespace="rabbit_targets",
    list_template="scenarios/console_rabbit_targets.html",
    add_title=_("Add RabbitMQ target"),
    delete_question=_("Delete this RabbitMQ target?"),
    saved=_("RabbitMQ target saved."),
    deleted=_("RabbitMQ target deleted."),
    probe=probe,
    failures=(live.Unreachable, SecretsUnreadable, InputError),
)
