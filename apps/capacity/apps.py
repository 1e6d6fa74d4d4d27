from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


def check_capacity_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A CAPACITY_PLANNED entry naming an unknown model or GPU stops start-up with the reason."""
    from apps.capacity.compare import check_settings

    return [checks.Error(message, id="capacity.E001") for message in check_settings()]


class CapacityConfig(AppConfig):
    name = "apps.capacity"
    label = "capacity"
    verbose_name = _("Capacity")

    def ready(self) -> None:
        from apps.accounts import console_nav

        checks.register(check_capacity_settings)
        console_nav.register(_("Cluster"), "cluster:index", order=45)
