from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScenariosConfig(AppConfig):
    name = "apps.scenarios"
    label = "scenarios"
    verbose_name = _("Scenarios")

    def ready(self) -> None:
        from apps.accounts import console_nav
        from apps.scenarios.engine import readiness, registry
        from common import health

        registry.discover()
        health.register("scenario-tools", readiness.check, required=False)
        console_nav.register(_("Scenario feedback"), "scenarios_console:feedback", order=72)
