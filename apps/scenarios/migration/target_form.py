"""The admin form of a RabbitMQ target: the URL checked, the password write-only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.migration.live import check_url
from apps.scenarios.migration.models import RabbitTarget


class RabbitTargetForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
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
    # Write-only: the stored password is never put back into the page.
    password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored one."),
    )
    clear_password = forms.BooleanField(label=_("Remove the stored password"), required=False)
    ca_file = forms.CharField(
        label=_("CA file"),
        max_length=500,
        required=False,
        help_text=_("Path on the portal server of the CA bundle for https; empty: the system's."),
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups allowed to use it"),
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None selected: admins only."),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: Any, instance: RabbitTarget | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance.name,
                "url": instance.url,
                "username": instance.username,
                "ca_file": instance.ca_file,
                "groups": list(instance.allowed_groups.all()),
                "enabled": instance.enabled,
            }
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = RabbitTarget.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("A target with this name already exists."))
        return name

    def clean_url(self) -> str:
        try:
            return check_url(self.cleaned_data["url"])
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None
