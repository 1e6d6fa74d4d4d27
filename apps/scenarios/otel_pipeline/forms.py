"""The telemetry pipeline page's own fields: what the input is (told by content unless
chosen) and the error logs pasted beside a configuration. The same fields validate the HTTP
API's params."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.forms import ScenarioForm, checked

KINDS = (
    ("", _("Tell by content")),
    ("collector", _("OpenTelemetry Collector configuration")),
    ("data-prepper", _("Data Prepper pipelines")),
    ("logs", _("Error logs only")),
)


class OtelForm(ScenarioForm):
    kind = forms.ChoiceField(label=_("What the input is"), choices=KINDS, required=False)
    logs = forms.CharField(
        label=_("Error logs (optional)"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
        help_text=_(
            "Collector, Data Prepper or OpenSearch log lines from the same pipeline: each is "
            "matched against the catalog of known errors, with the cause and the fix."
        ),
    )

    def clean_logs(self) -> str:
        logs = self.cleaned_data.get("logs") or ""
        try:
            return checked(logs, "logs") if logs else ""
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None
