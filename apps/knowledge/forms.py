"""Admin forms: one source (settings per type, secrets write-only) and the glossary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from apps.knowledge.ingest.connectors import netguard
from apps.knowledge.ingest.connectors.directory import root_refusal
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
    Source.Type.MATTERMOST: ["url", "team", "channels"],
    Source.Type.CHAT_EXPORT: ["url", "channels"],
    Source.Type.GDRIVE: ["folder", "drive", "subject", "api_url"],
}
LIST_FIELDS = {"include", "exclude", "spaces", "channels"}
TAG = re.compile(r"[\w-]{1,40}")
SECRET_FIELDS = {
    Source.Type.GIT: ["token"],
    Source.Type.CONFLUENCE: ["token", "password"],
    Source.Type.WEB: ["token"],
    Source.Type.MATTERMOST: ["token"],
    Source.Type.GDRIVE: ["service_account_key"],
}
KEY_FILE_MAX = 64 * 1024


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
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_(
            "Comma-separated labels such as runbooks, onboarding, postmortems: scenarios that "
            "read only some sources pick them by tag."
        ),
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
        help_text=_(
            "Git: clone URL or local path; Confluence: base URL; web: page URL; Mattermost: "
            "server URL; chat export: the workspace or server URL for links (optional)."
        ),
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
    team = forms.CharField(
        label=_("Mattermost team"),
        required=False,
        help_text=_("The team's name as in its URL (https://chat.example/<team>/...)."),
    )
    channels = forms.CharField(
        label=_("Channels"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Channel names as in their URL (or Mattermost channel ids), one per line. Every "
            "thread of these channels is readable by the groups above. Chat export: empty "
            "reads every public channel; a private channel is read only when named here."
        ),
    )
    folder = forms.CharField(
        label=_("Google Drive folder id"),
        required=False,
        help_text=_(
            "The id in the folder's address (https://drive.google.com/drive/folders/<id>); "
            "its subfolders are read too. Share the folder with the service account."
        ),
    )
    drive = forms.CharField(
        label=_("Shared drive id"),
        required=False,
        help_text=_(
            "Instead of a folder: a whole shared drive the service account is a member of."
        ),
    )
    subject = forms.CharField(
        label=_("Act for user (optional)"),
        required=False,
        help_text=_(
            "An e-mail address, with domain-wide delegation granted to the service account."
        ),
    )
    api_url = forms.CharField(
        label=_("Drive API address"),
        required=False,
        help_text=_(
            "Empty: https://www.googleapis.com. A Private Service Connect endpoint otherwise."
        ),
    )
    service_account_key = forms.FileField(
        label=_("Service account key (JSON file)"),
        required=False,
        help_text=_("Stored encrypted and never shown again; leave empty to keep the stored one."),
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
        if instance is not None and kwargs.get("initial") is None:
            initial: dict[str, Any] = {
                "name": instance.name,
                "type": instance.type,
                "groups": list(instance.allowed_groups.all()),
                "tags": ", ".join(instance.tags or []),
                "enabled": instance.enabled,
                "schedule_minutes": instance.schedule_minutes,
            }
            for key, value in (instance.settings or {}).items():
                initial[key] = "\n".join(value) if isinstance(value, list) else value
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if instance is not None:
            self.fields["type"].disabled = True  # a source's documents depend on its type

    def clean_service_account_key(self) -> str:
        """The key file's text, checked (JSON, a service account, an RSA private key)."""
        from apps.knowledge.ingest.connectors.gdrive import KeyProblem, load_key

        upload = self.cleaned_data.get("service_account_key")
        if not upload:
            return ""
        if upload.size > KEY_FILE_MAX:
            raise forms.ValidationError(
                _("A service account key is a small JSON file; this one is not.")
            )
        try:
            text = upload.read().decode("utf-8")
            load_key(text)
        except UnicodeDecodeError:
            raise forms.ValidationError(_("The key file is not UTF-8 text.")) from None
        except KeyProblem as exc:
            raise forms.ValidationError(
                _("This key cannot be used: %(problem)s.") % {"problem": exc}
            ) from None
        return text

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Source.objects.filter(name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(_("A source with this name already exists."))
        return name

    def clean_tags(self) -> list[str]:
        tags: list[str] = []
        for tag in _lines(self.cleaned_data.get("tags") or ""):
            tag = tag.lower()
            if not TAG.fullmatch(tag):
                raise forms.ValidationError(
                    _(
                        "“%(tag)s” is not a tag: use letters, digits, - and _ (at most 40 "
                        "characters)."
                    )
                    % {"tag": tag}
                )
            if tag not in tags:
                tags.append(tag)
        return tags

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("type")
        if kind == Source.Type.DIRECTORY:
            path = (data.get("path") or "").strip()
            if not path or not Path(path).is_dir():
                self.add_error("path", _("Give a directory that exists on the server."))
            elif problem := root_refusal(Path(path)):
                self.add_error("path", problem)
        needs_url = (
            Source.Type.GIT,
            Source.Type.CONFLUENCE,
            Source.Type.WEB,
            Source.Type.MATTERMOST,
        )
        if kind in needs_url and not data.get("url"):
            self.add_error("url", _("This type of source needs a URL."))
        if kind == Source.Type.GIT:
            self._clean_git(data)
        if kind in (Source.Type.CONFLUENCE, Source.Type.WEB, Source.Type.MATTERMOST) and data.get(
            "url"
        ):
            self._clean_web_url(data["url"].strip())
        if kind == Source.Type.MATTERMOST:
            if not (data.get("team") or "").strip():
                self.add_error("team", _("Name the team whose channels are read."))
            if not _lines(data.get("channels") or ""):
                self.add_error("channels", _("Name at least one channel."))
        link = (data.get("url") or "").strip()
        # Only links are made from a chat export's URL (never fetched), shown to every reader.
        if (
            kind == Source.Type.CHAT_EXPORT
            and link
            and urlsplit(link).scheme.lower() not in ("http", "https")
        ):
            self.add_error("url", _("Give an http:// or https:// URL."))
        if kind == Source.Type.GDRIVE:
            self._clean_gdrive(data)
        if kind == Source.Type.CONFLUENCE and not data.get("spaces"):
            self.add_error("spaces", _("Name at least one space."))
        return data

    def _clean_gdrive(self, data: dict[str, Any]) -> None:
        from apps.knowledge.ingest.connectors.gdrive import ID

        folder = (data.get("folder") or "").strip()
        drive = (data.get("drive") or "").strip()
        if bool(folder) == bool(drive):
            self.add_error("folder", _("Give a folder id or a shared drive id (one of them)."))
        for field, value in (("folder", folder), ("drive", drive)):
            if value and not ID.match(value):
                self.add_error(field, _("An id has only letters, digits, - and _."))
        stored = self.instance is not None and self.instance.has_secrets()
        if (
            not data.get("service_account_key")
            and not stored
            and "service_account_key" not in self.errors
        ):
            self.add_error("service_account_key", _("Upload the service account's JSON key."))
        if api := (data.get("api_url") or "").strip():
            self._clean_web_url(api, "api_url")

    def _clean_web_url(self, url: str, field: str = "url") -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            self.add_error(field, _("Give an http:// or https:// URL."))
        elif parts.username is not None or parts.password is not None:
            self.add_error(field, _("Put no credentials in the URL: use the Token field."))
        elif problem := netguard.url_refusal(url):
            self.add_error(field, problem)

    def _clean_git(self, data: dict[str, Any]) -> None:
        from apps.knowledge.ingest.connectors import gitrun

        url = (data.get("url") or "").strip()
        problem = gitrun.check_url(url) if url else None
        if not problem and gitrun.protocol_of(url) in ("http", "https"):
            problem = netguard.url_refusal(url)
        if problem:
            self.add_error("url", problem)
        problem = gitrun.check_ref((data.get("branch") or "").strip())
        if problem:
            self.add_error("branch", problem)
        template = (data.get("web_url") or "").strip()
        if template and urlsplit(template).scheme.lower() not in ("http", "https"):
            # The link is shown to every reader: a javascript: template would run in pages.
            self.add_error("web_url", _("The link template must start with https:// or http://."))

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
    MAX_LINES = 5000

    text = forms.CharField(
        label=_("Glossary"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}),
        help_text=_(
            "One set of interchangeable terms per line, comma-separated: под, поды, pod, pods"
        ),
    )
    # The revision the editor was opened on: a save made meanwhile by someone else is not
    # overwritten (the form says so and keeps this text).
    base = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_text(self) -> str:
        text: str = self.cleaned_data["text"]
        lines = text.splitlines()
        if len(lines) > self.MAX_LINES:
            raise forms.ValidationError(
                _("At most %(n)d lines; this text has %(got)d.")
                % {"n": self.MAX_LINES, "got": len(lines)}
            )
        problems = []
        for number, line in enumerate(lines, start=1):
            terms = [t.strip() for t in line.split(",") if t.strip()]
            if len(terms) == 1:
                problems.append(
                    _("Line %(n)d: «%(line)s» has one term; a line lists two or more.")
                    % {"n": number, "line": line.strip()[:80]}
                )
            elif len(", ".join(terms)) > 500:
                problems.append(
                    _("Line %(n)d is longer than 500 characters: split it.") % {"n": number}
                )
        if problems:
            raise forms.ValidationError(problems[:20])
        return text

    def clean_base(self) -> int | str:
        raw = (self.cleaned_data.get("base") or "").strip()
        if raw in ("", "none"):
            return "none"
        if not raw.isdigit():
            raise forms.ValidationError(_("Reload the page: the form is damaged."))
        return int(raw)
