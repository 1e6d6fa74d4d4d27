"""Summarize a written post-mortem: the report pasted, uploaded, read from Git or named by
incident number, link or path in the knowledge base; its sections found by their headings;
the model writes the executive summary from them, each sentence citing its section."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.scenarios.engine.base import Analysis, InputError, Scenario, check_size
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.engine.forms import Input, ScenarioForm
from apps.scenarios.postmortem import report

SECTION_NAMES = {
    "summary": gettext_lazy("Summary"),
    "timeline": gettext_lazy("Timeline"),
    "impact": gettext_lazy("Impact"),
    "root_cause": gettext_lazy("Root cause"),
    "mitigation": gettext_lazy("Mitigation"),
    "action_items": gettext_lazy("Action items"),
}


class SummaryForm(ScenarioForm):
    report = forms.CharField(
        label=gettext_lazy("Post-mortem in the knowledge base"),
        max_length=1000,
        required=False,
        help_text=gettext_lazy(
            "An incident number (#12345), or a link or path of the report. Empty: the report "
            "pasted, uploaded or from Git below."
        ),
        widget=forms.TextInput(attrs={"placeholder": "#12345", "size": 40}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].required = False
        self.fields["text"].label = gettext_lazy("Post-mortem (Markdown or Confluence text)")

    def clean(self) -> dict[str, Any]:
        reference = (self.data.get("report") or "").strip()
        if not reference:
            return super().clean()
        data = forms.Form.clean(self) or {}
        try:
            text, doc = report.find(self.user, reference)
        except InputError as exc:
            self.add_error("report", exc.message)
            return data
        self.input = Input(text, "system", name=(doc.title or doc.path)[:200])
        self.input.params = self.params() | {
            "document": {"source_id": doc.source_id, "title": doc.title, "link": doc.link}
        }
        return data


class PostmortemSummary(Scenario):
    slug = "postmortem-summary"
    title = gettext_lazy("Post-mortem executive summary")
    summary = gettext_lazy(
        "A written post-mortem (#12345, a link, Markdown or Confluence) summed up for managers "
        "and neighbouring teams, each sentence citing the report's section."
    )
    form_class = SummaryForm
    input_help = gettext_lazy(
        "Name the incident (#12345) or paste the report. Its sections (timeline, impact, root "
        "cause, mitigation, action items) are found by their headings in Russian or English."
    )
    instruction: ClassVar[str] = (
        "Write an executive summary of the post-mortem below for managers and neighbouring "
        "teams, in five short paragraphs: what happened and when, the impact, why it "
        "happened, what was done, and what will prevent a repeat (the action items with "
        "their owners and dates). Use only the report's sections given in the findings. End "
        "every sentence with the section it comes from in square brackets, e.g. [Impact] or "
        "[Root cause]. When a section is missing, say that the report does not say it."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        check_size(text)
        title, found = report.sections(text)
        if not found:
            raise InputError(
                _(
                    "no post-mortem sections found (headings such as Timeline, Impact, Root "
                    "cause, Mitigation, Action items or Хронология, Влияние, Причина, "
                    "Устранение, Задачи)"
                ),
                field="text",
            )
        findings: list[Finding] = []
        for section in found:
            name = str(SECTION_NAMES[section.kind])
            findings.append(
                Finding(
                    severity=Severity.INFO,
                    rule=f"postmortem.section.{section.kind}",
                    message=f"[{name}] {section.title}",
                    line=section.line,
                    evidence=section.text[:1500],
                    where=section.title,
                    data={"kind": section.kind, "items": section.items},
                )
            )
        kinds = {s.kind for s in found}
        for kind in report.REQUIRED:
            if kind not in kinds:
                findings.append(
                    Finding(
                        severity=Severity.WARNING,
                        rule=f"postmortem.section-missing.{kind}",
                        message=_("the report has no “%(section)s” section")
                        % {"section": SECTION_NAMES[kind]},
                    )
                )
        items = next((s.items for s in found if s.kind == "action_items"), [])
        for item in items:
            if not item["owner"] or not item["due"]:
                findings.append(
                    Finding(
                        severity=Severity.WARNING,
                        rule="postmortem.action-item-incomplete",
                        message=_("an action item without an owner or a date"),
                        evidence=item["text"][:300],
                        where=str(SECTION_NAMES["action_items"]),
                    )
                )
        facts = {
            "title": title,
            "sections": [s.to_dict() for s in found],
            "action_items": items,
            "document": params.get("document") or {},
        }
        return Analysis(findings=findings, facts=facts, grounding=[title] if title else [])

    def grounding_query(self, analysis: Analysis) -> str:
        return str(analysis.facts.get("title") or "")[:500]
