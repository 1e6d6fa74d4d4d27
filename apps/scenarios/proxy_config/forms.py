"""The proxy-config page's own fields: review or write, and the kind of config."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import MAX_INPUT_BYTES
from apps.scenarios.engine.forms import Input, ScenarioForm, checked, too_big
from apps.scenarios.proxy_config import archive

TASKS = (
    ("review", _("Review a config")),
    ("write", _("Write a config from a request")),
)
KINDS = (("", _("Tell by content")), ("nginx", "nginx"), ("haproxy", "HAProxy"))


class ProxyForm(ScenarioForm):
    # Not required: a client of the HTTP API that sends no task reviews, as the CLI does.
    task = forms.ChoiceField(
        label=_("Task"), choices=TASKS, initial="review", required=False, widget=forms.RadioSelect
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=KINDS, required=False)

    def _from_upload(self, upload: UploadedFile[bytes] | None) -> Input:
        """A .tar(.gz) or .zip of the config directory is read as one bundle; anything
        else is one file, as on every scenario page."""
        if upload is None or (upload.size or 0) > MAX_INPUT_BYTES:
            if upload is not None:
                raise too_big(upload.size or 0, "upload")
            return super()._from_upload(upload)
        data = upload.read(MAX_INPUT_BYTES + 1)
        if not archive.is_archive(data):
            upload.seek(0)
            return super()._from_upload(upload)
        text = archive.archive_text(data, "upload")
        return Input(checked(text, "upload"), "upload", name=(upload.name or "")[:200])
