"""OpenSearch queries from plain language, the deterministic half: the mapping read from a
recorded `_mapping` response, the validator every query goes through, the intents in Russian
and English, the equivalence the evaluation uses, and the frozen evaluation sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.checks import Block, Verdict
from apps.scenarios.opensearch_dsl import build, equivalence, intents, mapping, validate

DATA = Path(__file__).parent / "data" / "opensearch"
EVAL = Path(settings.BASE_DIR) / "bench" / "eval"
TZ = "Europe/Moscow"


@pytest.fixture(autouse=True)
def _english() -> Any:
    with translation.override("en"):
        yield


@pytest.fixture(scope="module")
def logs() -> mapping.IndexFields:
    return mapping.parse((DATA / "logs_mapping.json").read_text(), "logs-*")


def field(fields: mapping.IndexFields, name: str) -> mapping.Field:
    found = fields.get(name)
    assert found is not None, name
    return found


def ask(question: str, fields: mapping.IndexFields) -> build.Built:
    built = build.build(intents.read(question, fields), fields, TZ)
    assert built is not None, question
    return built


def problems(
    body: dict[str, Any], fields: mapping.IndexFields, endpoint: str = "_search"
) -> list[str]:
    return [str(p) for p in validate.check(body, fields, endpoint)]


# --- the mapping -----------------------------------------------------------------------------


def test_the_recorded_mapping_reads_as_typed_dotted_fields(logs: mapping.IndexFields) -> None:
    assert logs.indices == ["logs-2026.12.03", "logs-2026.12.04"]
    f = logs.get("http.response.status_code")
    assert f is not None and f.type == "long" and f.indices == set(logs.indices)
    # A multi-field is a field of its own; an alias has its target's type.
    assert (
        field(logs, "url.full").type == "text" and field(logs, "url.full.keyword").type == "keyword"
    )
    assert (
        field(logs, "level").type == "keyword" and field(logs, "level").alias_of == "severity.text"
    )
    # Any key below a flat_object is searchable as a keyword; a disabled object is not.
    assert field(logs, "attributes.http.route").type == "keyword"
    assert field(logs, "resource").searchable is False
    assert field(logs, "exception.stacktrace").searchable is False  # "index": false


def test_a_field_typed_differently_in_two_indices_is_a_conflict() -> None:
    fields = mapping.parse((DATA / "logs_mapping_conflict.json").read_text(), "logs-*")
    status = field(fields, "http.response.status_code")
    assert status.conflicting and status.conflicts == {"keyword": {"logs-2026.12.05"}}
    body = {"query": {"term": {"http.response.status_code": 500}}}
    assert problems(body, fields) == [
        "query.term.http.response.status_code: field 'http.response.status_code' has different "
        "types in the indices (long, keyword)"
    ]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        (
            '{"logs": {"mappings": {"properties": {\n  "a": {"type": "keyword"},,\n}}}}',
            "not valid JSON",
            2,
        ),
        ('["not", "a", "mapping"]', "must be a JSON object", None),
        ('{"acknowledged": true}', "No mapping found", None),
        ((DATA / "index_not_found.json").read_text(), "OpenSearch error response", None),
    ],
)
def test_what_is_not_a_mapping_is_refused_saying_what_it_is(
    text: str, message: str, line: int | None
) -> None:
    with pytest.raises(InputError) as error:
        mapping.parse(text)
    assert (
        message in error.value.message and error.value.line == line and error.value.field == "text"
    )


def test_a_deeply_nested_or_huge_mapping_is_refused_not_crashed() -> None:
    deep: dict[str, Any] = {"type": "keyword"}
    for n in range(40):
        deep = {"properties": {f"l{n}": deep}}
    with pytest.raises(InputError, match="nested more than"):
        mapping.parse(json.dumps({"i": {"mappings": deep}}))
    with pytest.raises(InputError, match="nested too deeply|not valid JSON"):
        mapping.parse("[" * 100_000 + "]" * 100_000)
    wide = {f"f{n}": {"type": "keyword"} for n in range(6000)}
    with pytest.raises(InputError, match="more than 5000 fields"):
        mapping.parse(json.dumps({"i": {"mappings": {"properties": wide}}}))


# --- the validator ---------------------------------------------------------------------------


def test_a_wrong_field_names_the_closest_one_with_its_type(logs: mapping.IndexFields) -> None:
    body = {"query": {"bool": {"filter": [{"term": {"status_code": 500}}]}}}
    assert problems(body, logs) == [
        "query.bool.filter[0].term.status_code: field 'status_code' not in logs-*; "
        "closest: http.response.status_code (long)"
    ]
    assert problems({"query": {"term": {"sevrity.txt": "ERROR"}}}, logs) == [
        "query.term.sevrity.txt: field 'sevrity.txt' not in logs-*; closest: severity.text (keyword)"
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # match on a keyword: the hint says term
        (
            {"query": {"match": {"service.name": "payments"}}},
            "match on field 'service.name' of type keyword is not allowed; use term",
        ),
        # term on text: the keyword sub-field is named
        (
            {"query": {"term": {"url.full": "https://x"}}},
            "term on field 'url.full' of type text is not allowed; use url.full.keyword",
        ),
        (
            {"query": {"term": {"body": "timeout"}}},
            "term on field 'body' of type text is not allowed; use match for text",
        ),
        (
            {"query": {"range": {"service.name": {"gte": "a"}}}},
            "range on field 'service.name' of type keyword is not allowed",
        ),
        (
            {"query": {"term": {"http.response.status_code": "five hundred"}}},
            "'five hundred' is not a number",
        ),
        (
            {"query": {"range": {"@timestamp": {"gte": "yesterday"}}}},
            "'yesterday' is not a date or date math",
        ),
        ({"query": {"term": {"client.ip": "10.0.0.300"}}}, "is not an IP address"),
        ({"query": {"wildcard": {"service.name": "*pay*"}}}, "a leading wildcard reads every term"),
        (
            {"query": {"query_string": {"query": "status:500"}}},
            "the clause 'query_string' is not allowed",
        ),
        ({"query": {"script": {"script": "doc['x'].value > 1"}}}, "scripts are not allowed"),
        (
            {"query": {"match_all": {}}, "sort": [{"_script": {"script": "1"}}]},
            "scripts are not allowed",
        ),
        (
            {"query": {"match_all": {}}, "aggs": {"a": {"terms": {"script": {"source": "1"}}}}},
            "scripts are not allowed",
        ),
        ({"query": {"match_all": {}}, "size": 100000}, "size: 100000 is over the cap of 500"),
        ({"from": 9990, "size": 20}, "from + size is over 10000"),
        (
            {"aggs": {"a": {"terms": {"field": "body"}}}},
            "aggregation on field 'body' of type text is not allowed",
        ),
        (
            {"aggs": {"a": {"terms": {"field": "service.name", "size": 5000}}}},
            "5000 is over the cap of 100",
        ),
        (
            {"aggs": {"a": {"date_histogram": {"field": "@timestamp", "fixed_interval": "often"}}}},
            "an interval like 5m, 1h or 1d",
        ),
        ({"sort": [{"body": "desc"}]}, "sort on field 'body' of type text is not allowed"),
        ({"query": {"exists": {"field": "resource"}}}, "field 'resource' is not indexed"),
        (
            {"query": {"match": {"exception.stacktrace": "NPE"}}},
            "field 'exception.stacktrace' is not indexed",
        ),
        ({"query": {"match_all": {}}, "script_fields": {"x": {}}}, "scripts are not allowed"),
        (
            {"query": {"match_all": {}}, "post_filter": {"match_all": {}}},
            "'post_filter' is not allowed in a _search request",
        ),
    ],
)
def test_queries_that_would_fail_or_hurt_are_refused_with_the_reason(
    logs: mapping.IndexFields, body: dict[str, Any], expected: str
) -> None:
    found = problems(body, logs)
    assert any(expected in p for p in found), found


def test_a_count_request_takes_only_a_query(logs: mapping.IndexFields) -> None:
    assert problems({"query": {"match_all": {}}}, logs, "_count") == []
    assert problems({"query": {"match_all": {}}, "size": 0}, logs, "_count") == [
        "size: 'size' is not allowed in a _count request"
    ]


def test_a_careful_query_passes(logs: mapping.IndexFields) -> None:
    body = {
        "query": {
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": "now-1d/d", "lt": "now/d", "time_zone": TZ}}},
                    {"terms": {"level": ["WARN", "ERROR"]}},
                    {"match_phrase": {"body": {"query": "connection refused", "slop": 1}}},
                    {"prefix": {"url.path": "/api/"}},
                    {"term": {"attributes.http.route": "/api/orders/{id}"}},
                    {
                        "range": {
                            "@timestamp": {"gte": "2025-02-06T14:00:00", "lt": "now/d+15h+30m"}
                        }
                    },
                ],
                "must_not": [
                    {"exists": {"field": "traceId"}},
                    {"term": {"client.ip": "10.0.0.0/8"}},
                ],
            }
        },
        "size": 0,
        "aggs": {
            "t": {
                "date_histogram": {"field": "@timestamp", "calendar_interval": "1h"},
                "aggs": {
                    "s": {
                        "terms": {"field": "service.name"},
                        "aggs": {
                            "p": {"percentiles": {"field": "event.duration", "percents": [95]}}
                        },
                    }
                },
            }
        },
    }
    assert problems(body, logs) == []


# --- intents ---------------------------------------------------------------------------------


def test_errors_of_a_service_in_the_last_hour_ru(logs: mapping.IndexFields) -> None:
    built = ask("ошибки сервиса payments за последний час", logs)
    assert built.endpoint == "_search" and not built.partial
    assert built.body == {
        "query": {
            "bool": {
                "filter": [
                    {"range": {"@timestamp": {"gte": "now-1h"}}},
                    {"term": {"severity.text": "ERROR"}},
                    {"term": {"service.name": "payments"}},
                ]
            }
        },
        "size": 20,
        "sort": [{"@timestamp": {"order": "desc"}}],
    }


@pytest.mark.parametrize(
    ("question", "bounds"),
    [
        ("errors in the last 15 minutes", {"gte": "now-15m"}),
        ("ошибки за последние 2 часа", {"gte": "now-2h"}),
        ("ошибки за сутки", {"gte": "now-1d"}),
        ("ошибки за полчаса", {"gte": "now-30m"}),
        ("errors in the past 24h", {"gte": "now-24h"}),
        ("ошибки вчера", {"gte": "now-1d/d", "lt": "now/d", "time_zone": TZ}),
        ("errors yesterday", {"gte": "now-1d/d", "lt": "now/d", "time_zone": TZ}),
        ("errors since yesterday", {"gte": "now-1d/d", "time_zone": TZ}),
        ("ошибки сегодня", {"gte": "now/d", "time_zone": TZ}),
        ("ошибки позавчера", {"gte": "now-2d/d", "lt": "now-1d/d", "time_zone": TZ}),
        ("errors since 10:00", {"gte": "now/d+10h", "time_zone": TZ}),
        ("ошибки с 10:30", {"gte": "now/d+10h+30m", "time_zone": TZ}),
        ("ошибки с 9 утра до 6 вечера", {"gte": "now/d+9h", "lt": "now/d+18h", "time_zone": TZ}),
        (
            "вчера с 22:00 до 23:00 ошибки",
            {"gte": "now-1d/d+22h", "lt": "now-1d/d+23h", "time_zone": TZ},
        ),
        ("errors on 2025-02-06", {"gte": "2025-02-06", "lt": "2025-02-06||+1d", "time_zone": TZ}),
        ("ошибки 06.02.2025", {"gte": "2025-02-06", "lt": "2025-02-06||+1d", "time_zone": TZ}),
    ],
)
def test_time_ranges_in_both_languages(
    logs: mapping.IndexFields, question: str, bounds: dict[str, str]
) -> None:
    built = ask(question, logs)
    assert {"range": {"@timestamp": bounds}} in built.body["query"]["bool"]["filter"], built.body
    assert not built.leftover, built.leftover


def test_status_codes_ranges_and_lists(logs: mapping.IndexFields) -> None:
    five = ask("5xx за час", logs).body["query"]["bool"]["filter"]
    assert {"range": {"http.response.status_code": {"gte": 500, "lt": 600}}} in five
    both = ask("ответы 502 или 504", logs).body["query"]["bool"]["filter"]
    assert both == [{"terms": {"http.response.status_code": [502, 504]}}]
    # "5xx errors" are the status, not the ERROR severity as well.
    assert not any(
        "severity.text" in json.dumps(c)
        for c in ask("5xx errors today", logs).body["query"]["bool"]["filter"]
    )
    negated = ask("всё кроме 200 за 5 минут", logs).body["query"]["bool"]
    assert negated["must_not"] == [{"term": {"http.response.status_code": 200}}]


def test_a_keyword_status_field_gets_a_prefix_for_5xx() -> None:
    fields = mapping.parse(
        json.dumps(
            {
                "p": {
                    "mappings": {
                        "properties": {
                            "@timestamp": {"type": "date"},
                            "status": {"type": "keyword"},
                        }
                    }
                }
            }
        ),
        "p",
    )
    built = ask("5xx за час", fields)
    assert {"prefix": {"status": "5"}} in built.body["query"]["bool"]["filter"]
    assert ask("статус 404", fields).body["query"]["bool"]["filter"] == [
        {"term": {"status": "404"}}
    ]


def test_grouping_histogram_metrics_and_count(logs: mapping.IndexFields) -> None:
    top = ask("топ-5 сервисов по ошибкам за сутки", logs).body
    assert top["size"] == 0 and top["aggs"] == {
        "by_service": {"terms": {"field": "service.name", "size": 5}}
    }
    hist = ask("errors per 5 minutes over the last 3 hours by host", logs).body["aggs"]
    assert hist == {
        "over_time": {
            "date_histogram": {"field": "@timestamp", "fixed_interval": "5m"},
            "aggs": {"by_host": {"terms": {"field": "host.name", "size": 10}}},
        }
    }
    # Durations in the question are converted to the field's unit (ECS event.duration is ns).
    slow = ask("запросы дольше 250 мс", logs).body["query"]["bool"]["filter"]
    assert slow == [{"range": {"event.duration": {"gt": 250_000_000}}}]
    counted = ask("how many errors in the last hour", logs)
    assert counted.endpoint == "_count" and "size" not in counted.body


def test_the_same_question_over_another_mapping_uses_its_fields() -> None:
    """ECS-style fields: log.level (lower case values), service.name, host.hostname."""
    ecs = {
        "p": {
            "mappings": {
                "properties": {
                    "@timestamp": {"type": "date"},
                    "log": {"properties": {"level": {"type": "keyword"}}},
                    "service": {"properties": {"name": {"type": "keyword"}}},
                    "message": {"type": "text"},
                }
            }
        }
    }
    fields = mapping.parse(json.dumps(ecs), "p")
    built = ask("errors of service api containing refused", fields)
    assert built.body["query"]["bool"]["filter"] == [
        {"term": {"log.level": "error"}},
        {"term": {"service.name": "api"}},
        {"match": {"message": "refused"}},
    ]


def test_a_concept_the_mapping_lacks_is_said_not_guessed() -> None:
    bare = {"p": {"mappings": {"properties": {"ts": {"type": "date"}, "msg": {"type": "text"}}}}}
    fields = mapping.parse(json.dumps(bare), "p")
    built = ask("ошибки сервиса payments за час", fields)
    assert built.partial and len(built.missing) == 2
    assert "has no service field" in " ".join(built.missing)
    assert built.body["query"]["bool"]["filter"] == [{"range": {"ts": {"gte": "now-1h"}}}]


def test_words_nobody_understood_are_reported(logs: mapping.IndexFields) -> None:
    built = ask("ошибки за час, которые выглядят подозрительно", logs)
    assert built.leftover == ["выглядят", "подозрительно"]
    assert intents.read("запросы медленнее обычного", logs).empty


# --- equivalence -----------------------------------------------------------------------------


def test_equivalence_ignores_order_names_and_spelling_but_not_meaning() -> None:
    a = {
        "query": {"bool": {"filter": [{"term": {"a": "x"}}, {"range": {"t": {"gte": "now-60m"}}}]}},
        "size": 0,
        "aggs": {"one": {"date_histogram": {"field": "t", "fixed_interval": "60m"}}},
    }
    b = {
        "query": {
            "bool": {
                "must": [{"range": {"t": {"gte": "now-1h", "lte": "now"}}}, {"terms": {"a": ["x"]}}]
            }
        },
        "size": 0,
        "aggregations": {"two": {"date_histogram": {"field": "t", "calendar_interval": "hour"}}},
    }
    assert equivalence.equivalent(("_search", a), ("_search", b))
    status = {"query": {"range": {"s": {"gte": 500, "lt": 600}}}}
    assert equivalence.equivalent(
        ("_count", status),
        ("_search", {"query": {"range": {"s": {"gte": 500, "lte": 599}}}, "size": 0}),
    )
    ors = {"query": {"bool": {"should": [{"term": {"s": "x"}}, {"term": {"s": "y"}}]}}}
    assert equivalence.equivalent(
        ("_count", ors), ("_count", {"query": {"terms": {"s": ["y", "x"]}}})
    )
    # Differences that change the answer:
    assert not equivalence.equivalent(("_search", a), ("_search", {**a, "size": 10}))
    other = {
        "query": {"bool": {"filter": [{"term": {"a": "y"}}, {"range": {"t": {"gte": "now-1h"}}}]}}
    }
    assert not equivalence.equivalent(("_count", a), ("_count", other))
    day = {"query": {"range": {"t": {"gte": "now/d", "time_zone": TZ}}}}
    assert not equivalence.equivalent(
        ("_count", day), ("_count", {"query": {"range": {"t": {"gte": "now/d"}}}})
    )
    negated = {"query": {"bool": {"must_not": [{"term": {"a": "x"}}]}}}
    assert not equivalence.equivalent(
        ("_count", negated), ("_count", {"query": {"term": {"a": "x"}}})
    )


# --- the frozen evaluation sets --------------------------------------------------------------


def _items(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVAL / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["opensearch_dsl.jsonl", "opensearch_dsl_holdout.jsonl"])
def test_every_expected_query_of_the_evaluation_passes_the_validator(
    logs: mapping.IndexFields, name: str
) -> None:
    items = _items(name)
    assert len(items) >= 40 and {i["lang"] for i in items} == {"ru", "en"}
    for item in items:
        assert problems(item["body"], logs, item["endpoint"]) == [], item["question"]


def test_the_development_set_is_answered_by_the_rules(logs: mapping.IndexFields) -> None:
    """The set the rules were written against: a regression guard, not the measure (the
    held-out set's share is in docs/benchmarks.md)."""
    wrong = []
    for item in _items("opensearch_dsl.jsonl"):
        built = build.build(intents.read(item["question"], logs), logs, TZ)
        got = (built.endpoint, built.body) if built else ("", None)
        if not equivalence.equivalent(got, (item["endpoint"], item["body"])):
            wrong.append(item["question"])
    assert wrong == []


# --- the scenario ----------------------------------------------------------------------------


def test_analysis_shows_the_query_three_ways_and_what_was_not_understood(
    logs: mapping.IndexFields,
) -> None:
    scenario = registry.get("opensearch-dsl")
    text = (DATA / "logs_mapping.json").read_text()
    result = scenario.analyze(text, {"question": "таймауты к базе за 30 минут", "index": "logs-*"})
    rules = [f.rule for f in result.findings]
    assert rules == ["opensearch.not-understood", "opensearch.query"]
    assert "“базе”" in result.findings[0].message
    request = result.facts["request"]
    assert request["dev_tools"].startswith("GET logs-*/_search\n{")
    assert request["curl"].startswith('curl -s \\\n  -u "$OPENSEARCH_USER:$OPENSEARCH_PASSWORD"')
    assert "'https://opensearch:9200/logs-*/_search?pretty'" in request["curl"]
    assert {"name": "http.response.status_code", "type": "long"} in result.facts["fields"]
    # Without an index given, the pattern comes from the mapping's index names.
    derived = scenario.analyze(text, {"question": "errors today"})
    assert derived.facts["index"] == "logs-*"


def test_a_question_no_rule_reads_is_an_input_error_naming_the_words(
    logs: mapping.IndexFields,
) -> None:
    scenario = registry.get("opensearch-dsl")
    text = (DATA / "logs_mapping.json").read_text()
    with pytest.raises(InputError) as error:
        scenario.analyze(text, {"question": "запросы медленнее обычного"})
    assert error.value.field == "question" and "“медленнее”, “обычного”" in error.value.message
    with pytest.raises(InputError) as empty:
        scenario.analyze(text, {"question": "  "})
    assert empty.value.field == "question"


@pytest.mark.parametrize(
    "pattern",
    [
        "../_cluster/settings",
        "logs-*/../x",
        "_all",
        "-logs",
        "logs-*?pretty",
        "logs x",
        "LOGS-*",
        "logs-*#a",
    ],
)
def test_hostile_index_patterns_are_refused_before_any_url_is_built(pattern: str) -> None:
    scenario = registry.get("opensearch-dsl")
    with pytest.raises(InputError) as error:
        scenario.analyze(
            (DATA / "logs_mapping.json").read_text(), {"question": "errors", "index": pattern}
        )
    assert error.value.field == "index"


def test_the_models_query_is_offered_only_when_it_passes_the_mapping_check(
    logs: mapping.IndexFields,
) -> None:
    scenario = registry.get("opensearch-dsl")
    analysis = scenario.analyze(
        (DATA / "logs_mapping.json").read_text(), {"question": "errors today", "index": "logs-*"}
    )
    good = '```json\n{"query": {"bool": {"must_not": [{"exists": {"field": "traceId"}}]}}, "size": 20}\n```'
    bad = '```json\n{"query": {"term": {"status_code": 500}}}\n```'
    broken = '```json\n{"query": {"term": \n```'
    checks = scenario.check_answer(
        f"Here:\n{good}\nor\n{bad}\nor\n{broken}\n```sh\nls\n```", analysis
    )
    assert [c.verdict for c in checks] == [
        Verdict.PASSED,
        Verdict.FAILED,
        Verdict.FAILED,
        Verdict.UNCHECKED,
    ]
    assert "closest: http.response.status_code (long)" in checks[1].message
    assert "not valid JSON" in checks[2].message or "no JSON object" in checks[2].message
    count = scenario.check_block(
        Block(0, "console", 'GET logs-*/_count\n{"query": {"match_all": {}}, "size": 5}\n', 1),
        analysis,
    )
    assert (
        count is not None
        and count.verdict == Verdict.FAILED
        and "'size' is not allowed in a _count request" in count.message
    )


def test_the_wrong_field_message_in_russian(logs: mapping.IndexFields) -> None:
    with translation.override("ru"):
        found = problems({"query": {"term": {"status_code": 500}}}, logs)
    assert found == [
        "query.term.status_code: поля 'status_code' нет в logs-*; "
        "ближайшее: http.response.status_code (long)"
    ]
