"""The onboarding scenario as the engine runs it: `manage.py scenario analyze onboarding FILE`
(and the HTTP API) validate a track file; `--track NAME` shows a stored track. Questions
asked on a track's page are runs of this scenario whose explanation is the answer, grounded
only in the onboarding sources and the track's links (ask())."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.knowledge.search import answering
from apps.scenarios.engine.base import Analysis, Ask, Scenario, read_input_file
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.onboarding import links, tracks

QUESTION = "onboarding-question"
INSTRUCTION = (
    "Answer the newcomer's question from the onboarding sources below only, citing them. "
    "When they do not answer it, say so and suggest asking the team lead."
)


class Onboarding(Scenario):
    slug = "onboarding"
    title = _("Onboarding")
    summary = _(
        "Your team's onboarding track: what to read, which access to request, how to check."
    )
    input_help = _("A track file (*.track.yaml or *.track.md) to check before it is committed.")
    explains = False
    source_tags = ("onboarding",)
    instruction: ClassVar[str] = INSTRUCTION

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        track = tracks.parse(text, str(params.get("name") or ""))
        findings: list[Finding] = []
        for step in track.steps:
            where = f"step {step.title!r}"
            if not step.verify:
                findings.append(
                    Finding(
                        severity=Severity.WARNING,
                        rule="onboarding.no-verify",
                        message=f"{where} says no way to verify that it is done",
                        line=step.line,
                        where=where,
                        fix="add verify: the command or the page that shows it is done",
                    )
                )
            if not step.read and not step.access:
                findings.append(
                    Finding(
                        severity=Severity.INFO,
                        rule="onboarding.nothing-to-read",
                        message=f"{where} names nothing to read and no access to request",
                        line=step.line,
                        where=where,
                    )
                )
            for link in step.read:
                if link.external:
                    continue
                if ":" in link.target.split("/", 1)[0]:
                    findings.append(
                        Finding(
                            severity=Severity.ERROR,
                            rule="onboarding.bad-link",
                            message=f"{link.target!r} is neither a document path nor an http(s) URL",
                            line=link.line,
                            where=where,
                            evidence=link.target,
                        )
                    )
                elif params.get("check_documents") and not links.find_document(
                    link.target, int(params.get("source_id") or 0), str(params.get("name") or "")
                ):
                    findings.append(
                        Finding(
                            severity=Severity.ERROR,
                            rule="onboarding.missing-document",
                            message=f"no document {link.target!r} in the knowledge base",
                            line=link.line,
                            where=where,
                            evidence=link.target,
                            fix="fix the path, or index the source that holds it",
                        )
                    )
        return Analysis(findings=findings, facts=track.to_dict())

    def ask(self, analysis: Analysis) -> Ask | None:
        """A question run: the newcomer's question within the track's scope."""
        facts = analysis.facts
        if facts.get("kind") != QUESTION:
            return None
        from apps.scenarios.onboarding.access import scope
        from apps.scenarios.onboarding.models import Track

        track = Track.objects.filter(name=facts.get("track")).first()
        step = track.step(str(facts.get("step") or "")) if track else None
        context = ""
        if track is not None:
            context = f"Track: {track.title}\n"
            if step is not None:
                context += f"Step: {step['title']}\n"
                context += "".join(f"Access to request: {a}\n" for a in step.get("access", []))
                context += "".join(f"Done when: {v}\n" for v in step.get("verify", []))
        return Ask(
            question=str(facts.get("question") or ""),
            # A question asked without a track reads the onboarding sources; one whose
            # track is gone reads nothing.
            scope=scope(track)
            if track or not facts.get("track")
            else answering.Scope(source_ids=frozenset({-1})),
            instruction=INSTRUCTION,
            context=context,
            context_title="The newcomer's track",
        )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", nargs="?", default="-", help="a track file, or - for stdin")
        parser.add_argument(
            "--check-documents",
            action="store_true",
            help="also check that the documents the track links exist in the index",
        )

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = str(options.get("file") or "-")
        params: dict[str, Any] = {"name": "" if name == "-" else name}
        if options.get("check_documents"):
            params["check_documents"] = True
        return read_input_file(name), params
