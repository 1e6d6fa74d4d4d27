"""The input form of every scenario page: paste, upload, or a file of an indexed Git source at a
branch or commit. A scenario adds its own fields by subclassing ScenarioForm (and naming the
subclass in `Scenario.form_class`); the cleaned values of those fields are its `params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.knowledge.ingest import gitfiles
from apps.scenarios.engine.base import MAX_INPUT_BYTES, InputError

MODES = (
    ("paste", gettext_lazy("Paste")),
    ("upload", gettext_lazy("Upload a file")),
    ("git", gettext_lazy("A file from Git")),
)


@dataclass
class Input:
    """What the form read: the text the scenario analyzes and where it came from."""

    text: str
    origin: str  # Run.Origin: paste, upload, git
    name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    git: gitfiles.GitFile | None = None


class ScenarioForm(forms.Form):
    """Fields every scenario page has. Subclasses add fields; don't rename these."""

    mode = forms.ChoiceField(choices=MODES, initial="paste", widget=forms.RadioSelect)
    text = forms.CharField(
        label=gettext_lazy("Input"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "mono"}),
    )
    upload = forms.FileField(label=gettext_lazy("File"), required=False)
    source = forms.TypedChoiceField(
        label=gettext_lazy("Git source"), required=False, coerce=int, empty_value=None
    )
    ref = forms.CharField(
        label=gettext_lazy("Branch, tag or commit"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("Empty: the commit last indexed."),
    )
    path = forms.CharField(label=gettext_lazy("File path"), required=False, max_length=500)
    explain = forms.BooleanField(
        label=gettext_lazy("Explain the findings with the model"), required=False, initial=True
    )
    ENGINE_FIELDS = ("mode", "text", "upload", "source", "ref", "path", "explain")

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.input: Input | None = None
        sources = gitfiles.git_sources(user) if user is not None else []
        source_field = self.fields["source"]
        assert isinstance(source_field, forms.TypedChoiceField)
        source_field.choices = [("", "—"), *((s.pk, s.name) for s in sources)]
        self.git_sources = sources

    def params(self) -> dict[str, Any]:
        """The scenario's own fields, cleaned: the `params` its analyze() receives."""
        return {k: v for k, v in self.cleaned_data.items() if k not in self.ENGINE_FIELDS}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        mode = data.get("mode") or "paste"
        try:
            if mode == "git":
                self.input = self._from_git(data)
            elif mode == "upload":
                self.input = self._from_upload(data.get("upload"))
            else:
                text = data.get("text") or ""
                if not text.strip():
                    raise InputError(_("Paste the input to analyze."), field="text")
                self.input = Input(checked(text, "text"), "paste")
        except InputError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        except gitfiles.GitFileError as exc:
            self.add_error(exc.field, exc.message)
        if self.input is not None and not self.errors:
            self.input.params = self.params()
        return data

    def _from_git(self, data: dict[str, Any]) -> Input:
        if not data.get("source"):
            raise InputError(_("Choose a Git source."), field="source")
        if not (data.get("path") or "").strip():
            raise InputError(_("Give the path of the file in the repository."), field="path")
        got = gitfiles.read_file(self.user, data["source"], data.get("ref", ""), data["path"])
        return Input(checked(got.text, "path"), "git", name=got.path, git=got)

    def _from_upload(self, upload: UploadedFile[bytes] | None) -> Input:
        if upload is None:
            raise InputError(_("Choose a file to upload."), field="upload")
        if (upload.size or 0) > MAX_INPUT_BYTES:
            raise too_big(upload.size or 0, "upload")
        raw = upload.read(MAX_INPUT_BYTES + 1)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                _("The file is not UTF-8 text (byte %(n)d).") % {"n": exc.start}, field="upload"
            ) from None
        return Input(checked(text, "upload"), "upload", name=(upload.name or "")[:200])


def too_big(size: int, field: str) -> InputError:
    return InputError(
        _("The input is %(mb).1f MB; at most %(max)d MB is read.")
        % {"mb": size / 1048576, "max": MAX_INPUT_BYTES // 1048576},
        field=field,
    )


def checked(text: str, field: str) -> str:
    """base.check_size for the pages: the same limits, said in the page's language."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_INPUT_BYTES:
        raise too_big(size, field)
    if "\x00" in text:
        raise InputError(_("The input is binary, not text."), field=field)
    return text
