"""The migration page's form: product, versions, the config files, and (for RabbitMQ) a live
node an admin configured, read at once with read-only calls."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.forms import Input, ScenarioForm, checked
from apps.scenarios.migration import versions
from apps.scenarios.migration.actions import usable_by
from apps.scenarios.migration.models import RabbitTarget

PRODUCT_CHOICES = (("rabbitmq", "RabbitMQ"), ("opensearch", "OpenSearch"))


def _area(rows: int = 6) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "spellcheck": "false", "class": "mono"})


class MigrationForm(ScenarioForm):
    product = forms.ChoiceField(label=_("Product"), choices=PRODUCT_CHOICES)
    from_version = forms.CharField(
        label=_("Current version"), max_length=20, help_text=_("e.g. 3.12.14 or 1.3.20")
    )
    to_version = forms.CharField(
        label=_("Target version"), max_length=20, help_text=_("e.g. 4.0.5 or 2.19")
    )
    through = forms.CharField(
        label=_("Through (intermediate versions, in order)"),
        max_length=200,
        required=False,
        help_text=_("Comma-separated, e.g. 3.12.14, 3.13.7; the page says which are needed."),
    )
    advanced_config = forms.CharField(
        label=_("RabbitMQ advanced.config"),
        required=False,
        strip=False,
        widget=_area(),
        help_text=_("Erlang terms; read as data, never evaluated."),
    )
    plugins = forms.CharField(
        label=_("OpenSearch plugins"),
        required=False,
        widget=_area(),
        help_text=_("Output of bin/opensearch-plugin list or GET _cat/plugins?v."),
    )
    index_settings = forms.CharField(
        label=_("OpenSearch index versions"),
        required=False,
        strip=False,
        widget=_area(),
        help_text=_("JSON of GET _all/_settings/index.version.created?flat_settings=true."),
    )

    target = forms.ModelChoiceField(
        label=_("Read a RabbitMQ node now"),
        queryset=RabbitTarget.objects.none(),
        required=False,
        help_text=_(
            "Its version, feature flags, queue types, mirroring policies and alarms, read with GET requests only."
        ),
    )
    opensearch_live = forms.BooleanField(
        label=_("Read the OpenSearch cluster the portal is connected to"),
        required=False,
        help_text=_("GET _cluster/health, _cat/nodes and _nodes/settings at OPENSEARCH_URL."),
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        self.live: dict[str, Any] | None = None
        field = self.fields["target"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = usable_by(user) if user is not None else RabbitTarget.objects.none()
        if not field.queryset.exists():
            del self.fields["target"]
        from apps.scenarios.opensearch_dsl import client

        if not client.configured():
            del self.fields["opensearch_live"]

    def params(self) -> dict[str, Any]:
        out = super().params()
        target = out.pop("target", None)
        out.pop("opensearch_live", None)
        if target is not None:
            out["target"] = target.name
        if self.live is not None:
            out["live"] = self.live
        return out

    def _read_live(self, data: dict[str, Any]) -> None:
        from apps.knowledge.crypto import SecretsUnreadable
        from apps.scenarios.migration import live, live_opensearch

        target = data.get("target")
        if target and data.get("product") == "rabbitmq":
            try:
                self.live = live.read(
                    target.url, target.username, target.password(), target.ca_file
                )
            except (live.Unreachable, SecretsUnreadable, InputError) as exc:
                message = gettext_now("%(name)s cannot be read: %(error)s")
                self.add_error("target", message % {"name": target.name, "error": exc})
        elif data.get("opensearch_live") and data.get("product") == "opensearch":
            try:
                self.live = live_opensearch.read()
            except InputError as exc:
                self.add_error("opensearch_live", exc.message)

    def _version(self, name: str) -> str:
        value = self.cleaned_data.get(name, "").strip()
        try:
            versions.parse(value, field=name)
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None
        return value

    def clean_from_version(self) -> str:
        return self._version("from_version")

    def clean_to_version(self) -> str:
        return self._version("to_version")

    def clean_through(self) -> str:
        raw = self.cleaned_data.get("through", "")
        for part in (p.strip() for p in raw.replace(";", ",").split(",")):
            if part:
                try:
                    versions.parse(part, field="through")
                except InputError as exc:
                    raise forms.ValidationError(exc.message) from None
        return raw

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        if not self.errors:
            self._read_live(data)
        for name in ("advanced_config", "plugins", "index_settings"):
            try:
                checked(data.get(name) or "", name)
            except InputError as exc:
                self.add_error(name, exc.message)
        # The config file is optional: a checklist without it is still the checklist.
        if (data.get("mode") or "paste") == "paste" and not (data.get("text") or "").strip():
            if not self.errors:
                self.input = Input("", "paste", params=self.params())
        else:
            data = super().clean()
        if self.input is not None and self.input.origin == "paste":
            # Runs are listed by their path, not by the config's first line.
            product = dict(PRODUCT_CHOICES).get(data.get("product", ""), "")
            self.input.name = f"{product} {data.get('from_version')} → {data.get('to_version')}"
        return data
