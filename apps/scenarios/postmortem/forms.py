"""The draft page's form: the timeline pasted or uploaded (the engine's fields), chat exports
and more timelines as extra files, the incident's alerts from alert triage, its time zone and
date."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.scenarios.engine.base import MAX_INPUT_BYTES
from apps.scenarios.engine.forms import Input, ScenarioForm
from apps.scenarios.postmortem import timeparse

RECENT_ALERTS = 50


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


def visible_alerts(user: Any) -> list[Any]:
    """The latest alerts alert triage recorded, when the user may see the alerts page."""
    from apps.scenarios.alert_triage.models import Alert
    from apps.scenarios.alert_triage.views import can_view

    if user is None or not can_view(user):
        return []
    return list(Alert.objects.order_by("-starts_at")[:RECENT_ALERTS])


class PostmortemForm(ScenarioForm):
    attachments = MultipleFileField(
        label=gettext_lazy("Chat exports and more timelines"),
        required=False,
        help_text=gettext_lazy(
            "Slack channel export (JSON), Mattermost bulk export (JSONL) or posts (JSON), "
            "CSV, text; several files at once."
        ),
    )
    alerts = forms.TypedMultipleChoiceField(
        label=gettext_lazy("The incident's alerts (alert triage)"),
        required=False,
        coerce=int,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    timezone = forms.CharField(
        label=gettext_lazy("Time zone of times without one"),
        max_length=64,
        required=False,
        help_text=gettext_lazy("Europe/Moscow, UTC, +03:00. Empty: the portal's time zone."),
    )
    date = forms.CharField(
        label=gettext_lazy("Date of the incident"),
        max_length=10,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("For HH:MM lines when the timeline gives no date."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].label = gettext_lazy(
            "Timeline: one event per line with its time (2026-03-05 14:02, 14:02, syslog, "
            "access log), or CSV"
        )
        alerts = self.fields["alerts"]
        assert isinstance(alerts, forms.TypedMultipleChoiceField)
        rows = visible_alerts(self.user)
        alerts.choices = [
            (a.pk, f"{a.starts_at:%Y-%m-%d %H:%M} · {a.alertname or a.fingerprint} · {a.status}")
            for a in rows
        ]
        if not rows:
            del self.fields["alerts"]
        self.fields["timezone"].widget.attrs["placeholder"] = settings.TIME_ZONE

    def clean_timezone(self) -> str:
        name = (self.cleaned_data.get("timezone") or "").strip()
        if name:
            try:
                timeparse.zone(name)
            except timeparse.BadZone:
                raise forms.ValidationError(
                    _("Unknown time zone (e.g. Europe/Moscow, UTC, +03:00).")
                ) from None
        return name

    def clean_attachments(self) -> list[dict[str, str]]:
        out = []
        for upload in self.cleaned_data.get("attachments") or []:
            assert isinstance(upload, UploadedFile)
            if (upload.size or 0) > MAX_INPUT_BYTES:
                raise forms.ValidationError(
                    _("%(name)s is over %(mb)d MB.")
                    % {"name": upload.name, "mb": MAX_INPUT_BYTES // 1048576}
                )
            try:
                text = upload.read(MAX_INPUT_BYTES + 1).decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    _("%(name)s is not UTF-8 text.") % {"name": upload.name}
                ) from None
            out.append({"name": (upload.name or "")[:200], "text": text})
        return out

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        pasted = (data.get("mode") or "paste") == "paste"
        # Chat exports or alerts alone are enough: the timeline box may stay empty.
        if (
            pasted
            and not (data.get("text") or "").strip()
            and (data.get("attachments") or data.get("alerts"))
        ):
            data = forms.Form.clean(self) or {}
            self.input = Input("", "paste")
            self.input.params = self.params()
            return data
        return super().clean()
