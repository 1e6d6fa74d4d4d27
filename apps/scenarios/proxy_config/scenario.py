"""The proxy-config scenario: what the engine calls."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import MAX_INPUT_BYTES, Analysis, Scenario, read_input_file
from apps.scenarios.engine.checks import Block, Check, Verdict
from apps.scenarios.proxy_config import archive, output_check, review, write
from apps.scenarios.proxy_config import bundle as bundles
from apps.scenarios.proxy_config.forms import ProxyForm


class ProxyConfig(Scenario):
    slug: ClassVar[str] = "proxy-config"
    title = _("Nginx and HAProxy")
    summary = _("Review or write Nginx and HAProxy configuration.")
    tools: ClassVar[tuple[str, ...]] = ("nginx", "haproxy", "gixy")
    form_class = ProxyForm
    input_help = _(
        "Review: an nginx.conf or haproxy.cfg, a snippet of one, or several files as "
        "`tail -n +1 nginx.conf conf.d/*.conf` prints them. Write: what the config should do, "
        'in words ("балансировщик для трёх бэкендов с health check и sticky sessions").'
    )
    instruction: ClassVar[str] = (
        "Explain the findings below about the engineer's nginx or HAProxy config: what each "
        "means, why it matters in production and the exact change that fixes it, citing the "
        "sources. When the analysis holds a generated config (facts.config), explain what "
        "each block of it does instead, and do not rewrite it. Quote config only as complete "
        "blocks in ```nginx or ```haproxy fences: each is checked by the real tool. Do not "
        "add problems that are not in the findings."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        kind = str(params.get("kind") or "") or None
        if params.get("task") == "write":
            return write.write(text, kind)
        return review.review(bundles.load(text, kind))

    def check_block(self, block: Block, analysis: Analysis) -> Check | None:
        """A config block of the model's answer through the same review: only what the real
        tool accepts with no error is ready. The run's kind decides an unlabelled block."""
        kind = str(analysis.facts.get("kind") or "")
        result = output_check.check_config(block.code, block.lang, kind)
        if result.verdict == "unchecked":
            return None if not result.message else Check.unchecked(block, result.message)
        verdict = Verdict.PASSED if result.verdict == "passed" else Verdict.FAILED
        return Check(block.index, block.lang, block.code, verdict, result.tool, result.message)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "file",
            nargs="?",
            default="-",
            help="config file, a config directory or a .tar(.gz)/.zip of one, or - for stdin "
            "(a bundle as `tail -n +1 FILES` prints it)",
        )
        parser.add_argument(
            "--kind", choices=bundles.KINDS, help="nginx or haproxy (default: by content)"
        )
        parser.add_argument(
            "--write",
            action="store_true",
            help="the input is a request in words: write a config from templates (see --json)",
        )

    def _cli_text(self, name: str | None) -> str:
        """FILE, a config directory, or an archive of one; '-' is standard input."""
        path = Path(name) if name and name != "-" else None
        if path is not None and path.is_dir():
            return archive.directory_text(path)
        if path is not None and path.is_file():
            with path.open("rb") as fh:
                head = fh.read(512)
            if archive.is_archive(head):
                data = path.read_bytes()[: MAX_INPUT_BYTES + 1]
                return archive.archive_text(data, "file")
        return read_input_file(name)

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        params = {
            "kind": options.get("kind") or "",
            "task": "write" if options.get("write") else "review",
        }
        return self._cli_text(options.get("file")), params
