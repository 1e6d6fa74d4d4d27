"""The Ansible page's own fields: review or generate, what the file is, the ansible-lint
profile. The same fields validate the HTTP API's params."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.scenarios.ansible import tools
from apps.scenarios.engine.forms import ScenarioForm

TASKS = (
    ("review", _("Review a playbook or role file")),
    ("generate", _("Generate a playbook from a task description")),
)
KINDS = (
    ("", _("Tell by content")),
    ("playbook", _("Playbook")),
    ("tasks", _("Role tasks (tasks/main.yml)")),
    ("handlers", _("Role handlers (handlers/main.yml)")),
    ("vars", _("Variables (vars/main.yml)")),
    ("meta", _("Role meta (meta/main.yml)")),
)
PROFILE_NAMES = {
    "min": _("min: the file loads"),
    "basic": _("basic: common mistakes"),
    "moderate": _("moderate: naming and style"),
    "safety": _("safety: risky modules and permissions"),
    "shared": _("shared: fit to publish"),
    "production": _("production: fit for a production fleet"),
}
PROFILES = (
    ("", _("Review: every rule; generate: production")),
    *((p, PROFILE_NAMES[p]) for p in tools.PROFILES),
)


class AnsibleForm(ScenarioForm):
    # Not required: an HTTP API client that sends no task reviews, as the command line does.
    task = forms.ChoiceField(
        label=_("Task"), choices=TASKS, initial="review", required=False, widget=forms.RadioSelect
    )
    kind = forms.ChoiceField(
        label=_("File kind"),
        choices=KINDS,
        required=False,
        help_text=_("Review only: which file of a role it is decides the rules that apply."),
    )
    profile = forms.ChoiceField(
        label=_("ansible-lint profile"),
        choices=PROFILES,
        required=False,
        help_text=_(
            "A generated playbook is offered as ready only when it meets this profile "
            "(at least basic)."
        ),
    )
