from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KnowledgeConfig(AppConfig):
    name = "apps.knowledge"
    label = "knowledge"
    verbose_name = _("Knowledge")

    def ready(self) -> None:
        from apps.accounts import console_nav
        from apps.knowledge import readiness, tasks
        from common import health, services

        console_nav.register(_("Knowledge sources"), "knowledge_console:sources", order=30)
        health.register("qdrant", readiness.check, required=True)
        services.register("knowledge-schedule", tasks.scheduler)
