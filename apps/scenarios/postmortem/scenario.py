"""The post-mortem scenario as the engine runs it: raw material in (a timeline, CSV, chat
exports, the incident's alerts), the merged timeline with milestones, durations and action
items out (`manage.py scenario analyze postmortem FILE [FILE…] --json`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import Analysis, Ask, InputError, Scenario, read_input_file
from apps.scenarios.postmortem import draft
from apps.scenarios.postmortem.forms import PostmortemForm


def _alerts(ids: Any) -> list[Any]:
    from apps.scenarios.alert_triage.models import Alert

    wanted = [int(i) for i in ids or [] if str(i).isdigit()]
    rows = list(Alert.objects.filter(pk__in=wanted))
    missing = sorted(set(wanted) - {a.pk for a in rows})
    if missing:
        raise InputError(
            f"no alert {', '.join(f'#{n}' for n in missing)} in alert triage", field="alerts"
        )
    return rows


class Postmortem(Scenario):
    slug = "postmortem"
    title = _("Post-mortem summary")
    summary = _("A timeline and chat log turned into a post-mortem draft.")
    form_class = PostmortemForm
    input_help = _(
        "A timeline (one event per line with its time, or CSV), Slack or Mattermost chat "
        "exports, and the incident's alerts. Times in any zone are merged; milestones give "
        "time to detect, acknowledge, mitigate and resolve."
    )
    source_tags = ("postmortems",)
    instruction: ClassVar[str] = (
        "Draft the sections of a post-mortem from the merged timeline below: summary, impact, "
        "timeline, root cause (only what the entries show; say what is not known), "
        "mitigation, and action items with owners and dates. Cite timeline entries as [T<n>]. "
        "Do not invent events, times, owners or causes that are not in the timeline."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        return draft.analyze(
            text,
            attachments=params.get("attachments") or (),
            alerts=_alerts(params.get("alerts")),
            zone_name=str(params.get("timezone") or ""),
            day=params.get("date") or None,
        )

    def ask(self, analysis: Analysis) -> Ask | None:
        """The model drafts the template's summary, impact, root cause and mitigation from
        the numbered timeline, citing entries (drafting.py), in the page's language."""
        from django.utils import translation

        from apps.scenarios.postmortem import drafting

        if not analysis.facts.get("timeline"):
            return None
        return drafting.ask(analysis, translation.get_language() or "ru")

    def grounding_query(self, analysis: Analysis) -> str:
        # Similar incidents are found by what fired and the words of the milestones.
        milestones = analysis.facts.get("milestones") or {}
        terms = [*analysis.grounding, *(m.get("text", "") for m in milestones.values())]
        return " ".join(dict.fromkeys(t for t in terms if t))[:500]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "file", nargs="*", default=["-"], help="timeline, CSV or chat export files; - for stdin"
        )
        parser.add_argument("--timezone", default="", help="zone of times without one")
        parser.add_argument("--date", default="", help="the incident's date for HH:MM lines")
        parser.add_argument(
            "--alert", type=int, action="append", default=[], help="an alert triage record's id"
        )

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        files = list(options.get("file") or ["-"])
        text = read_input_file(files[0])
        attachments = [{"name": name, "text": read_input_file(name)} for name in files[1:]]
        return text, {
            "attachments": attachments,
            "alerts": options.get("alert") or [],
            "timezone": options.get("timezone") or "",
            "date": options.get("date") or "",
        }
