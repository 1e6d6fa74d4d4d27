"""What the model is given when the rules do not understand a question, and how its query is
read back. The model sees the question and the pattern's field list (names and types) — no
documents, no mapping internals — and the house conventions; whatever it writes is checked by
validate.check before anyone sees it as ready.
"""

from __future__ import annotations

import json
import re
from typing import Any

from apps.inference.prompts import Prompt

MAX_FIELDS_IN_PROMPT = 300

RULES = (
    "Write one OpenSearch query DSL request body as JSON for the question, over the index "
    "pattern and fields listed. Use only these fields, with a clause their type allows: match "
    "or match_phrase on text; term or terms on keyword, number and ip; range on date and "
    "number; exists on any. Put every condition in bool.filter and every negated one in "
    "bool.must_not. Time: a range on the time field with date math (now-1h, now-1d/d). Hits: "
    'size 20 sorted by the time field, newest first. Grouping or histograms: "size": 0 with '
    "aggs (terms, date_histogram with fixed_interval, avg, max, percentiles, cardinality). "
    'For "how many" without grouping, write the request for GET <index>/_count with only '
    "the query. No scripts. Answer with the JSON only."
)

# Worked examples in the conventions; none is a question of the evaluation sets.
EXAMPLES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "warnings from service cart in the last 2 hours",
        "_search",
        {
            "query": {
                "bool": {
                    "filter": [
                        {"range": {"@timestamp": {"gte": "now-2h"}}},
                        {"terms": {"severity.text": ["WARN", "WARNING"]}},
                        {"term": {"service.name": "cart"}},
                    ]
                }
            },
            "size": 20,
            "sort": [{"@timestamp": {"order": "desc"}}],
        },
    ),
    (
        "сколько ответов 502 за последние 10 минут",
        "_count",
        {
            "query": {
                "bool": {
                    "filter": [
                        {"range": {"@timestamp": {"gte": "now-10m"}}},
                        {"term": {"http.response.status_code": 502}},
                    ]
                }
            }
        },
    ),
    (
        "errors by host per 5 minutes over the last hour",
        "_search",
        {
            "query": {
                "bool": {
                    "filter": [
                        {"range": {"@timestamp": {"gte": "now-1h"}}},
                        {"term": {"severity.text": "ERROR"}},
                    ]
                }
            },
            "size": 0,
            "aggs": {
                "over_time": {
                    "date_histogram": {"field": "@timestamp", "fixed_interval": "5m"},
                    "aggs": {"by_host": {"terms": {"field": "host.name", "size": 10}}},
                }
            },
        },
    ),
]


def field_lines(fields: list[dict[str, str]]) -> str:
    return "\n".join(f"- {f['name']} ({f['type']})" for f in fields[:MAX_FIELDS_IN_PROMPT])


def _example(pattern: str, question: str, endpoint: str, body: dict[str, Any]) -> str:
    return f"Question: {question}\nGET {pattern}/{endpoint}\n{json.dumps(body, ensure_ascii=False)}"


def prompt(question: str, fields: list[dict[str, str]], pattern: str, time_zone: str) -> Prompt:
    """The request to the model: rules, fields, examples, then the question."""
    context = (
        f"{RULES}\nIndex pattern: {pattern}. Time zone for calendar days: {time_zone}.\n"
        f"Fields:\n{field_lines(fields)}"
    )
    shots = "\n\n".join(_example(pattern, q, e, b) for q, e, b in EXAMPLES)
    messages = [
        {"role": "system", "content": f"{context}\n\nExamples:\n{shots}"},
        {"role": "user", "content": question},
    ]
    # A base model continues a document: the same examples, ending where the query begins.
    completion = f"{context}\n\n{shots}\n\nQuestion: {question}\nGET {pattern}/"
    return Prompt(messages=messages, completion=completion)


def _first_object(text: str) -> str | None:
    """The first balanced {...} of the text (strings respected)."""
    start = text.find("{")
    while start != -1:
        depth, in_string, escaped = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_string:
                if escaped:
                    escaped = False
                elif c == "\\":
                    escaped = True
                elif c == '"':
                    in_string = False
            elif c == '"':
                in_string = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return text[start : i + 1]
        start = text.find("{", start + 1)
    return None


def extract(text: str) -> tuple[str, Any] | None:
    """(endpoint, body) of the query in a model's answer, or None when it wrote none that
    parses. A fenced ```json block wins over loose JSON; `_count` is read from a request
    line ("GET logs-*/_count") before the body."""
    fenced = re.search(r"```(?:json|javascript|console|http)?\s*\n(.*?)```", text, re.DOTALL)
    part = fenced.group(1) if fenced else text
    raw = _first_object(part)
    if raw is None:
        return None
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return None
    head = part[: part.find(raw)]
    endpoint = "_count" if re.search(r"_count\b", head) else "_search"
    return endpoint, body
