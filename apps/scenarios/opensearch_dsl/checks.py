"""Checking a query the model wrote for a run, before it is offered as ready."""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import Analysis
from apps.scenarios.engine.checks import Block, Check, Verdict
from apps.scenarios.opensearch_dsl import client, mapping, model, validate

TOOL = "mapping check"
_QUERY_LANGS = {"json", "", "console", "http", "javascript"}


def check_block(block: Block, analysis: Analysis) -> Check | None:
    if block.lang not in _QUERY_LANGS:
        return None
    facts = analysis.facts
    if not facts.get("fields"):
        return None
    got = model.extract(block.code)
    if got is None:
        _body, problem = validate.parse_json(re.sub(r"^\s*(GET|POST)\s+\S+\s*\n", "", block.code))
        message = str(problem) if problem else _("no JSON object in the block")
        return Check(block.index, block.lang, block.code, Verdict.FAILED, TOOL, message)
    endpoint, body = got
    pattern = str(facts.get("index") or "index")
    conflicts = (facts.get("mapping") or {}).get("conflicts") or []
    fields = mapping.from_field_list(list(facts["fields"]), pattern, conflicts)
    problems = validate.check(body, fields, endpoint)
    if problems:
        message = "\n".join(str(p) for p in problems)
        return Check(block.index, block.lang, block.code, Verdict.FAILED, TOOL, message)
    if not client.configured():
        return Check(
            block.index,
            block.lang,
            block.code,
            Verdict.PASSED,
            TOOL,
            _("valid for %(index)s") % {"index": pattern},
        )
    tool = f"{TOOL} + OpenSearch _validate/query"
    try:
        verdict = client.validate_query(pattern, body.get("query"))
    except client.OpenSearchError as exc:
        # The mapping check passed; OpenSearch's own opinion is missing, and the page says so.
        return Check(block.index, block.lang, block.code, Verdict.PASSED, TOOL, exc.message)
    if not verdict.valid:
        return Check(block.index, block.lang, block.code, Verdict.FAILED, tool, verdict.explanation)
    return Check(
        block.index,
        block.lang,
        block.code,
        Verdict.PASSED,
        tool,
        _("valid for %(index)s") % {"index": pattern},
    )
