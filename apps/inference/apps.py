from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _


def check_llm_backends(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A malformed LLM_BACKENDS entry stops `manage.py check` (and start-up) with its index."""
    from apps.inference.backends import validate_entry

    errors: list[checks.CheckMessage] = []
    names: set[str] = set()
    for index, entry in enumerate(settings.LLM_BACKENDS):
        try:
            validate_entry(entry, index)
        except ValueError as exc:
            errors.append(checks.Error(str(exc), id="inference.E001"))
            continue
        if entry["name"] in names:
            errors.append(
                checks.Error(f"LLM_BACKENDS names {entry['name']!r} twice", id="inference.E002")
            )
        names.add(entry["name"])
    return errors


def _forget_view(**kwargs: Any) -> None:
    from apps.inference import routing

    routing.forget()


class InferenceConfig(AppConfig):
    name = "apps.inference"
    label = "inference"
    verbose_name = _("Inference")

    def ready(self) -> None:
        from apps.accounts import console_nav
        from apps.inference import lifespan, readiness
        from common import health, services

        checks.register(check_llm_backends)
        # An edit in this process routes the next request by it (others within a second).
        from django.db.models.signals import post_delete, post_save

        from apps.inference.models import Backend

        post_save.connect(_forget_view, sender=Backend, dispatch_uid="inference-saved")
        post_delete.connect(_forget_view, sender=Backend, dispatch_uid="inference-deleted")
        console_nav.register(_("LLM backends"), "inference:backends", order=40)
        # Required once backends are configured: a portal whose every model is down cannot
        # answer, so it should leave the load balancer until one is back.
        health.register("llm", readiness.check, required=bool(settings.LLM_BACKENDS))
        services.register("llm", lifespan.serve)
