"""The deterministic half: mapping + question → a validated request, or the reason there is none."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from apps.scenarios.engine.base import Analysis, InputError, check_size
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.opensearch_dsl import build, client, intents, mapping, render, validate

MAX_QUESTION = 1000
MAX_CONFLICTS_SHOWN = 5


def default_pattern(fields: mapping.IndexFields) -> str:
    """logs-2026.12.03 and logs-2026.12.04 → logs-*."""
    if len(fields.indices) <= 1:
        return fields.indices[0] if fields.indices else "index"
    prefix = os.path.commonprefix(fields.indices)
    # Cut before the date part: logs-2026.12.0 → logs-*, app-logs-2026 → app-logs-*.
    dated = re.match(r"(.*?[-._])\d", prefix)
    if dated:
        prefix = dated.group(1)
    return prefix + "*" if prefix else ",".join(fields.indices)


def question_of(params: Mapping[str, Any]) -> str:
    question = str(params.get("question") or "").strip()
    if not question:
        raise InputError(
            _("Ask a question, e.g. “ошибки сервиса payments за последний час”."), field="question"
        )
    if len(question) > MAX_QUESTION:
        raise InputError(
            _("The question is longer than %(n)d characters.") % {"n": MAX_QUESTION},
            field="question",
        )
    return question


def _clause_refs(body: Any) -> list[str]:
    """The clause and aggregation names a query uses: what the docs are searched for."""
    names: list[str] = []
    known = {
        *("bool", "term", "terms", "range", "match", "match_phrase", "multi_match", "exists"),
        *("prefix", "wildcard", "date_histogram", "percentiles", "avg", "max", "histogram"),
    }

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in known and key not in names:
                    names.append(key)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(body)
    return names


def _live(pattern: str, built: build.Built) -> tuple[dict[str, Any], list[Finding]]:
    """OpenSearch's own verdict and the hit count, when OPENSEARCH_URL is set."""
    query = built.body.get("query")
    facts: dict[str, Any] = {}
    try:
        verdict = client.validate_query(pattern, query)
        facts["valid"] = verdict.valid
        facts["explanation"] = verdict.explanation
        if not verdict.valid:
            return facts, [
                Finding(
                    Severity.ERROR,
                    "opensearch.rejected",
                    _("OpenSearch rejects the query (_validate/query)."),
                    evidence=verdict.explanation,
                    where=f"{pattern}/_validate/query",
                )
            ]
        facts["count"] = client.count(pattern, query)
    except client.OpenSearchError as exc:
        facts["error"] = exc.message
        return facts, [
            Finding(
                Severity.WARNING,
                "opensearch.unreachable",
                _("The query could not be checked on OpenSearch: %(error)s")
                % {"error": exc.message},
                where=settings.OPENSEARCH_URL,
            )
        ]
    return facts, [
        Finding(
            Severity.INFO,
            "opensearch.query-hits",
            _("OpenSearch accepts the query; %(n)s documents match it (_count).")
            % {"n": f"{facts['count']:,}".replace(",", "\u202f")},
            where=f"{pattern}/_count",
            data={"count": facts["count"]},
        )
    ]


def analysis(text: str, params: Mapping[str, Any]) -> Analysis:
    question = question_of(params)
    fields = mapping.parse(check_size(text), str(params.get("index") or ""))
    pattern = client.check_pattern(str(params.get("index") or "") or default_pattern(fields))
    fields.pattern = pattern
    intent = intents.read(question, fields)
    built = build.build(intent, fields, settings.TIME_ZONE)
    if built is None:
        words = ", ".join(f"“{w}”" for w in intent.leftover) or question
        raise InputError(
            _(
                "No rule understood the question (%(words)s). The rules know time ranges, "
                "severities, services, hosts, namespaces, pods, HTTP status codes, methods, "
                "paths, durations, texts, top N, histograms and counts."
            )
            % {"words": words},
            field="question",
        )
    findings: list[Finding] = []
    problems = validate.check(built.body, fields, built.endpoint)
    shown = render.request(pattern, built.endpoint, built.body)
    understood = "; ".join(p.words for p in built.parts if p.words.strip())
    refs = tuple(_clause_refs(built.body))
    if problems:
        findings.append(
            Finding(
                Severity.ERROR,
                "opensearch.invalid",
                _("The query built from the question does not pass the mapping check."),
                evidence="\n".join(str(p) for p in problems),
                refs=refs,
            )
        )
    findings.append(
        Finding(
            Severity.INFO,
            "opensearch.query",
            _("Query built without the model from: %(parts)s") % {"parts": understood or question},
            evidence=shown["dev_tools"],
            where=shown["path"],
            refs=refs,
        )
    )
    if built.leftover:
        findings.append(
            Finding(
                Severity.WARNING,
                "opensearch.not-understood",
                _("Not understood, left out of the query: %(words)s")
                % {"words": ", ".join(f"“{w}”" for w in built.leftover)},
                fix=_(
                    "Rephrase, name the field (field:value), or ask the model to write the query."
                ),
            )
        )
    for missing in built.missing:
        findings.append(Finding(Severity.WARNING, "opensearch.no-field", missing))
    conflicts = [f for f in fields.fields.values() if f.conflicting]
    for f in conflicts[:MAX_CONFLICTS_SHOWN]:
        others = ", ".join(
            f"{t} in {', '.join(sorted(ix))}" for t, ix in sorted(f.conflicts.items())
        )
        findings.append(
            Finding(
                Severity.INFO,
                "opensearch.type-conflict",
                _("%(name)s is %(type)s in some indices and %(others)s: queries on it are refused.")
                % {"name": f.name, "type": f.type, "others": others},
                where=pattern,
            )
        )
    facts: dict[str, Any] = {
        "index": pattern,
        "question": question,
        "request": shown,
        "understood": [p.to_dict() for p in built.parts],
        "not_understood": built.leftover,
        "missing": built.missing,
        "problems": [p.to_dict() for p in problems],
        "mapping": {
            "indices": fields.indices,
            "fields": len(fields.queryable()),
            "conflicts": [f.name for f in conflicts],
        },
        "fields": fields.field_list(),
    }
    if params.get("check") and client.configured() and not problems:
        facts["opensearch"], live = _live(pattern, built)
        findings += live
    grounding = ["OpenSearch query DSL", *[re.sub(r"_", " ", r) for r in refs]]
    return Analysis(findings=findings, facts=facts, grounding=grounding)
