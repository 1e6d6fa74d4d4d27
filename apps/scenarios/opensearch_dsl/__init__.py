"""OpenSearch queries from plain language: a question in Russian or English and an index
pattern's mapping turned into a query DSL request by deterministic intents, validated against
the mapping (and, with OPENSEARCH_URL, by OpenSearch itself) before it is shown."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError, Scenario, read_input_file
from apps.scenarios.engine.checks import Block, Check
from apps.scenarios.opensearch_dsl.forms import OpenSearchForm


class OpenSearchDsl(Scenario):
    slug = "opensearch-dsl"
    title = _("OpenSearch queries")
    summary = _("Plain language to OpenSearch query DSL, checked before you run it.")
    form_class = OpenSearchForm
    input_help = _(
        "Ask in Russian or English. The mapping says which fields exist: paste the answer of "
        "GET <index>/_mapping, or read it from OpenSearch when the portal is connected to it."
    )
    instruction: ClassVar[str] = (
        "The engineer asked the question below about logs. Explain the query the findings "
        "show: what each clause does and how to adjust it. If the findings say parts of the "
        "question were not understood, write the full query as one ```json block (the request "
        "body), using only the fields listed with their types: match or match_phrase on text "
        "fields, term or terms on keyword and number fields, range on date and number fields, "
        "positive conditions in bool.filter, negated ones in bool.must_not, no scripts."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        from apps.scenarios.opensearch_dsl import analyze

        return analyze.analysis(text, params)

    def check_block(self, block: Block, analysis: Analysis) -> Check | None:
        """A query the model wrote: JSON, allowed clauses, fields of this run's mapping with
        types their clauses read, sizes capped, no scripts; with OPENSEARCH_URL, OpenSearch's
        own _validate/query too."""
        from apps.scenarios.opensearch_dsl import checks

        return checks.check_block(block, analysis)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("question", help="the question, in Russian or English")
        parser.add_argument(
            "--mapping",
            metavar="FILE",
            help="the answer of GET <index>/_mapping (- for stdin); without it, the mapping "
            "is read from OPENSEARCH_URL",
        )
        parser.add_argument("--index", default="", help="the index pattern, e.g. logs-*")
        parser.add_argument(
            "--check",
            action="store_true",
            help="with OPENSEARCH_URL: run _validate/query and _count for the query",
        )

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        from apps.scenarios.opensearch_dsl import client

        index = str(options.get("index") or "")
        params: dict[str, Any] = {
            "question": str(options.get("question") or ""),
            "index": index,
            "check": bool(options.get("check")),
        }
        if options.get("mapping"):
            return read_input_file(options["mapping"]), params
        if not client.configured() or not index:
            raise InputError(
                "give --mapping FILE, or set OPENSEARCH_URL and --index PATTERN", field="mapping"
            )
        try:
            return client.get_mapping(client.check_pattern(index)), params
        except client.OpenSearchError as exc:
            raise InputError(exc.message, field="mapping") from None


registry.register(OpenSearchDsl())
