"""Admin forms of alert triage: a webhook token's name, a chat destination."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.scenarios.alert_triage import matchers
from apps.scenarios.alert_triage.models import Destination


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. alertmanager-prod"))


class DestinationForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    # Write-only: a stored URL is never put back into the page.
    url = forms.CharField(
        label=_("Incoming webhook URL"),
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Leave empty to keep the stored URL."),
    )

    class Meta:
        model = Destination
        fields = ["name", "kind", "matchers", "channel", "send_resolved", "enabled"]

    def clean_url(self) -> str:
        url = str(self.cleaned_data.get("url") or "").strip()
        if not url:
            if not self.instance.pk:
                raise forms.ValidationError(_("A new destination needs its webhook URL."))
            return ""
        parts = urlparse(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise forms.ValidationError(_("Give the full http(s):// URL of the incoming webhook."))
        return url

    def clean_matchers(self) -> str:
        text = str(self.cleaned_data.get("matchers") or "").strip()
        try:
            matchers.parse(text)
        except matchers.MatcherError as exc:
            raise forms.ValidationError(str(exc)) from None
        return text

    def url_hint(self) -> str:
        parts = urlparse(self.cleaned_data["url"])
        return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].help_text = _(
            "Optional; Mattermost honours it, Slack's app webhooks post to their own channel."
        )
