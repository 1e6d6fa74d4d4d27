"""The page's form: the catalog (pasted, uploaded or a file of an indexed Git repository at a
ref), the service, what is changed and how far to look."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from apps.scenarios.change_impact.analyze import DEFAULT_DEPTH, MAX_CHANGE
from apps.scenarios.change_impact.graph import MAX_DEPTH
from apps.scenarios.engine.forms import ScenarioForm


class ChangeImpactForm(ScenarioForm):
    service = forms.CharField(
        label=gettext_lazy("Service"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "payments", "autocomplete": "off"}),
    )
    change = forms.CharField(
        label=gettext_lazy("The change"),
        required=False,
        max_length=MAX_CHANGE,
        widget=forms.Textarea(
            attrs={"rows": 2, "placeholder": "обновление PostgreSQL 15 → 16 для payments-db"}
        ),
    )
    depth = forms.IntegerField(
        label=gettext_lazy("Depth"),
        required=False,  # the API may leave it out: 2
        min_value=1,
        max_value=MAX_DEPTH,
        initial=DEFAULT_DEPTH,
        help_text=gettext_lazy("How many steps of dependencies to follow each way."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].label = gettext_lazy("Service catalog (catalog-info.yaml)")
        self.fields["path"].widget.attrs.setdefault("placeholder", "catalog-info.yaml")
