"""The admin form of a RabbitMQ target: the common fields (engine/targets.py), the management
API URL checked, the user and the CA file."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.targets import TargetForm
from apps.scenarios.migration.live import check_url
from apps.scenarios.migration.models import RabbitTarget


class RabbitTargetForm(TargetForm):
    model = RabbitTarget
    field_order = ["name", "url", "username", "password", "clear_password", "ca_file"]

    url = forms.CharField(
        label=_("Management API URL"),
        max_length=500,
        help_text=_(
            "https://mq-1.example:15672 (with the path prefix, if the management UI has one)."
        ),
    )
    username = forms.CharField(
        label=_("User"),
        max_length=200,
        help_text=_(
            "Only GET requests are sent; RabbitMQ lists feature flags only to users with the administrator tag."
        ),
    )
    ca_file = forms.CharField(
        label=_("CA file"),
        max_length=500,
        required=False,
        help_text=_("Path on the portal server of the CA bundle for https; empty: the system's."),
    )

    def clean_url(self) -> str:
        try:
            return check_url(self.cleaned_data["url"])
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None
