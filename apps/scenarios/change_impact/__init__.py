"""Change impact: a Backstage service catalog (catalog-info.yaml), with the dependencies the
traces show when PROMETHEUS_URL is set, turned into the blast radius of a change to one
service: what depends on it and what it depends on, the owners to tell, the quietest hours,
past incidents and a checklist."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.change_impact.forms import ChangeImpactForm
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, Scenario, read_input_file


class ChangeImpact(Scenario):
    slug = "change-impact"
    title = _("Change impact")
    summary = _("What depends on the service you are about to change, from the services catalog.")
    form_class = ChangeImpactForm
    input_help = _(
        "The service catalog in Backstage's catalog-info.yaml format (Component, System, "
        "Resource, API; several documents separated by ---): paste it, upload it or pick it "
        "from an indexed Git repository. With PROMETHEUS_URL set, the dependencies the traces "
        "show are compared with it."
    )
    instruction: ClassVar[str] = (
        "The engineer is about to change the service named in the findings. Explain the blast "
        "radius: which services can break and why, whom to tell, and when to do it. Cite the "
        "past incidents and post-mortems among the sources that mention the service and say "
        "what they teach for this change. Do not add services or dependencies that are not "
        "in the findings."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        from apps.scenarios.change_impact import analyze

        return analyze.analysis(text, params)

    def run_title(self, params: Mapping[str, Any]) -> str:
        service = str(params.get("service") or "").strip()
        change = " ".join(str(params.get("change") or "").split())
        if not service:
            return ""
        return f"{service}: {change[:120]}" if change else service

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "file", nargs="?", default="-", help="catalog-info.yaml, or - for stdin"
        )
        parser.add_argument("--service", required=True, help="the service to change")
        parser.add_argument("--depth", type=int, default=2, help="steps to follow (1-6)")
        parser.add_argument("--change", default="", help="what is changed, in words")

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        params = {
            "service": str(options.get("service") or ""),
            "depth": options.get("depth") or 2,
            "change": str(options.get("change") or ""),
        }
        return read_input_file(options.get("file")), params


registry.register(ChangeImpact())
