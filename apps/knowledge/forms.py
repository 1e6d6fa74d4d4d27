"""Admin forms: one source (settings per type, secrets write-only) and the glossary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from apps.knowledge.models import Source


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


def _lines(value: str) -> list[str]:
    return [x.strip() for x in value.replace(",", "\n").splitlines() if x.strip()]


# Which settings each type uses: form field -> settings key.
TYPE_FIELDS: dict[str, list[str]] = {
    Source.Type.DIRECTORY: ["path", "include", "exclude"],
    Source.Type.UPLOAD: [],
    Source.Type.GIT: ["url", "branch", "include", "exclude", "web_url"],
    Source.Type.CONFLUENCE: ["url", "spaces", "username", "cloud"],
    Source.Type.WEB: ["url", "sitemap", "include", "limit"],
}
LIST_FIELDS = {"include", "exclude", "spaces"}
SECRET_FIELDS = {
    Source.Type.GIT: ["token"],
    Source.Type.CONFLUENCE: ["token", "password"],
    Source.Type.WEB: ["token"],
}


class SourceForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    type = forms.ChoiceField(label=_("Type"), choices=Source.Type.choices)
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups allowed to read"),
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None selected: every signed-in user may read this source."),
    )
    new_groups = forms.CharField(
        label=_("Other groups"),
        required=False,
        help_text=_("Comma-separated group names that do not exist yet."),
    )
    enabled = forms.BooleanField(label=_("Enabled (searchable)"), required=False, initial=True)
    schedule_minutes = forms.IntegerField(
        label=_("Sync every (minutes)"),
        required=False,
        min_value=5,
        help_text=_("Empty: sync only on demand."),
    )
    path = forms.CharField(label=_("Directory on the server"), required=False)
    url = forms.CharField(
        label=_("URL"),
        required=False,
        help_text=_("Git: clone URL or local path; Confluence: base URL; web: page URL."),
    )
    branch = forms.CharField(label=_("Branch"), required=False)
    web_url = forms.CharField(
        label=_("File link template"),
        required=False,
        help_text=_("Git only, e.g. https://git.example/ops/runbooks/-/blob/{commit}/{path}"),
    )
    include = forms.CharField(
        label=_("Include (globs)"), required=False, help_text=_("One per line, e.g. docs/**/*.md")
    )
    exclude = forms.CharField(
        label=_("Exclude (globs)"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    spaces = forms.CharField(
        label=_("Confluence spaces"), required=False, help_text=_("Space keys, comma-separated.")
    )
    username = forms.CharField(label=_("User name"), required=False)
    cloud = forms.BooleanField(label=_("Confluence Cloud"), required=False)
    sitemap = forms.BooleanField(label=_("The URL is a sitemap"), required=False)
    limit = forms.IntegerField(
        label=_("At most pages"), required=False, min_value=1, max_value=10000
    )
    # Write-only: stored secrets are never put back into the page.
    token = forms.CharField(
        label=_("Token"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored one."),
    )
    password = forms.CharField(
        label=_("Password"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the stored one."),
    )
    upload = MultipleFileField(
        label=_("Upload files"), required=False, widget=MultipleFileInput(attrs={"multiple": True})
    )

    def __init__(self, *args: Any, instance: Source | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            initial: dict[str, Any] = {
                "name": instance.name,
                "type": instance.type,
                "groups": list(instance.allowed_groups.all()),
                "enabled": instance.enabled,
                "schedule_minutes": instance.schedule_minutes,
            }
            for key, value in (instance.settings or {}).items():
                initial[key] = "\n".join(value) if isinstance(value, list) else value
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if instance is not None:
            self.fields["type"].disabled = True  # a source's documents depend on its type

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Source.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("A source with this name already exists."))
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("type")
        if kind == Source.Type.DIRECTORY:
            path = (data.get("path") or "").strip()
            if not path or not Path(path).is_dir():
                self.add_error("path", _("Give a directory that exists on the server."))
        if kind in (Source.Type.GIT, Source.Type.CONFLUENCE, Source.Type.WEB) and not data.get(
            "url"
        ):
            self.add_error("url", _("This type of source needs a URL."))
        if kind == Source.Type.CONFLUENCE and not data.get("spaces"):
            self.add_error("spaces", _("Name at least one space."))
        return data

    def source_settings(self) -> dict[str, Any]:
        data = self.cleaned_data
        out: dict[str, Any] = {}
        for key in TYPE_FIELDS.get(data["type"], []):
            value = data.get(key)
            if key in LIST_FIELDS:
                value = _lines(value or "")
            elif isinstance(value, str):
                value = value.strip()
            if value not in (None, "", []):
                out[key] = value
        return out

    def secrets(self) -> dict[str, str]:
        return {
            k: self.cleaned_data.get(k) or ""
            for k in SECRET_FIELDS.get(self.cleaned_data["type"], [])
        }

    def group_names(self) -> list[str]:
        names = [g.name for g in self.cleaned_data.get("groups") or []]
        return sorted(set(names + _lines(self.cleaned_data.get("new_groups") or "")))


class GlossaryForm(forms.Form):
    text = forms.CharField(
        label=_("Glossary"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}),
        help_text=_(
            "One set of interchangeable terms per line, comma-separated: под, поды, pod, pods"
        ),
    )
