"""The page's form: the question, the index pattern, and the mapping pasted, uploaded, taken
from Git or, with OPENSEARCH_URL set, read from OpenSearch itself."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.forms import MODES, Input, ScenarioForm
from apps.scenarios.opensearch_dsl import client

LIVE = "live"


class OpenSearchForm(ScenarioForm):
    question = forms.CharField(
        label=gettext_lazy("Question"),
        max_length=1000,
        widget=forms.TextInput(
            attrs={"placeholder": "ошибки сервиса payments за последний час", "size": 60}
        ),
    )
    index = forms.CharField(
        label=gettext_lazy("Index pattern"),
        max_length=255,
        required=False,
        help_text=gettext_lazy("Empty: taken from the mapping's index names."),
    )
    check = forms.BooleanField(
        label=gettext_lazy("Check it on OpenSearch (_validate/query) and count the hits (_count)"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        mode = self.fields["mode"]
        assert isinstance(mode, forms.ChoiceField)
        if client.configured():
            mode.choices = [(LIVE, gettext_lazy("Mapping from OpenSearch")), *MODES]
            mode.initial = LIVE
            self.fields["index"].initial = "logs-*"
        else:
            del self.fields["check"]
        self.fields["text"].label = gettext_lazy("Mapping (the answer of GET <index>/_mapping)")

    def clean_index(self) -> str:
        pattern = (self.cleaned_data.get("index") or "").strip()
        if not pattern:
            return ""
        try:
            return client.check_pattern(pattern)
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean(self) -> dict[str, Any]:
        if (self.data.get("mode") or "") != LIVE or not client.configured():
            return super().clean()
        data = forms.Form.clean(self) or {}
        pattern = data.get("index") or ""
        if not pattern and "index" not in self.errors:
            self.add_error(
                "index", _("Give the index pattern whose mapping OpenSearch should send.")
            )
            return data
        if self.errors:
            return data
        try:
            text = client.get_mapping(pattern)
        except client.OpenSearchError as exc:
            self.add_error(None, exc.message)
            return data
        self.input = Input(text, "system", name=f"GET {pattern}/_mapping", params=self.params())
        return data
