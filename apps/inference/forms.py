"""The admin form for one LLM backend."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.inference.models import Backend


class BackendForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    # Write-only: the stored key is never put back into the page.
    api_key = forms.CharField(
        label=_("API key"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the current key."),
    )
    clear_api_key = forms.BooleanField(label=_("Remove the stored API key"), required=False)

    class Meta:
        model = Backend
        fields = ["name", "url", "model", "tier", "base_model", "development", "enabled"]
        help_texts = {
            "name": _("Letters, digits, - and _; shown in logs and metrics."),
            "url": _("OpenAI-compatible base URL, e.g. http://vllm-fast-0:8000/v1"),
            "model": _("The name the server serves the model under (vLLM --served-model-name)."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.from_settings:
            # LLM_BACKENDS finds its entries by name: a renamed one would come back.
            self.fields["name"].disabled = True

    def clean_url(self) -> str:
        return str(self.cleaned_data["url"]).rstrip("/")
