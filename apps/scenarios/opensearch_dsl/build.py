"""An Intent turned into an OpenSearch request over a pattern's real fields.

Conventions (the evaluation's expected queries follow them, and the model is told them):
every positive condition in `bool.filter`, every negated one in `bool.must_not`; hits are the
20 latest (`sort` on the time field, newest first) unless the question says how many or
asks for the oldest; aggregations run with `size: 0`, a date histogram outside, terms inside
it, a metric innermost; "how many" without grouping is the `_count` API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.opensearch_dsl.concepts import CONCEPTS, duration_unit, resolve
from apps.scenarios.opensearch_dsl.intents import Filter, Intent, TextMatch
from apps.scenarios.opensearch_dsl.mapping import KEYWORD, NUMERIC, TEXT, Field, IndexFields
from apps.scenarios.opensearch_dsl.validate import MAX_AGG_SIZE, MAX_SIZE

DEFAULT_SIZE = 20
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000}
_TO_UNIT = {"ns": 1_000_000, "us": 1000, "ms": 1, "s": 0.001}


@dataclass
class Part:
    """What one piece of the question became."""

    words: str
    clause: str

    def to_dict(self) -> dict[str, str]:
        return {"words": self.words, "clause": self.clause}


@dataclass
class Built:
    endpoint: str  # _search or _count
    body: dict[str, Any]
    parts: list[Part] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # what the mapping has no field for
    leftover: list[str] = field(default_factory=list)  # words nobody understood

    @property
    def partial(self) -> bool:
        return bool(self.missing or self.leftover)


def _number(value: Any, f: Field) -> Any:
    if f.type in NUMERIC:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return int(number) if number.is_integer() else number
    return str(value)


def _short(clause: dict[str, Any]) -> str:
    import json

    return json.dumps(clause, ensure_ascii=False, separators=(", ", ": "))


class _Builder:
    def __init__(self, intent: Intent, fields: IndexFields, tz: str) -> None:
        self.intent, self.fields, self.tz = intent, fields, tz
        self.positive: list[dict[str, Any]] = []
        self.negative: list[dict[str, Any]] = []
        self.parts: list[Part] = []
        self.missing: list[str] = []
        self.time_field = resolve(fields, "time")

    def concept_field(self, concept: str, words: str) -> Field | None:
        found = resolve(self.fields, concept)
        if found is None:
            wanted = ", ".join(CONCEPTS[concept].candidates[:4])
            self.missing.append(
                _("“%(words)s”: %(index)s has no %(concept)s field (looked for %(wanted)s)")
                % {
                    "words": words,
                    "index": self.fields.pattern,
                    "concept": concept,
                    "wanted": wanted,
                }
            )
        return found

    def add(self, clause: dict[str, Any], negate: bool, words: str) -> None:
        (self.negative if negate else self.positive).append(clause)
        self.parts.append(Part(words, ("NOT " if negate else "") + _short(clause)))

    def time(self) -> None:
        span = self.intent.time
        if span is None:
            return
        if self.time_field is None:
            self.missing.append(
                _("“%(words)s”: %(index)s has no date field")
                % {"words": span.label, "index": self.fields.pattern}
            )
            return
        bounds: dict[str, Any] = {}
        if span.gte:
            bounds["gte"] = span.gte
        if span.lt:
            bounds["lt"] = span.lt
        if span.zoned:
            bounds["time_zone"] = self.tz
        self.add({"range": {self.time_field.name: bounds}}, False, span.label)

    def filter(self, f: Filter) -> None:
        target = self.fields.get(f.field) if f.field else self.concept_field(f.concept, f.words)
        if target is None:
            return
        name = target.name
        if f.field and target.type in TEXT:
            self.add({"match": {name: f.values[0]}}, f.negate, f.words)
            return
        if f.op == "range":
            if target.type in KEYWORD and f.concept == "status":
                # "5xx" on a keyword status: the codes that start with 5.
                self.add({"prefix": {name: str(f.bounds["gte"] // 100)}}, f.negate, f.words)
                return
            bounds = dict(f.bounds)
            if f.unit == "ms":
                factor = _TO_UNIT[duration_unit(target)]
                bounds = {k: _number(v * factor, target) for k, v in bounds.items()}
            self.add({"range": {name: bounds}}, f.negate, f.words)
            return
        values = [_number(v, target) for v in f.values]
        if f.concept == "level":
            # ECS writes log.level in lower case; OTel severity text is upper case.
            values = [v.lower() if name == "log.level" else v for v in values]
        if f.op == "exists":
            self.add({"exists": {"field": name}}, f.negate, f.words)
        elif f.op == "prefix" and target.type in KEYWORD:
            self.add({"prefix": {name: values[0]}}, f.negate, f.words)
        elif len(values) == 1:
            self.add({"term": {name: values[0]}}, f.negate, f.words)
        else:
            self.add({"terms": {name: values}}, f.negate, f.words)

    def text(self, t: TextMatch) -> None:
        target = self.fields.get(t.field) if t.field else self.concept_field("text", t.words)
        if target is None:
            return
        kind = "match_phrase" if t.phrase else "match"
        self.add({kind: {target.name: t.text}}, t.negate, t.words)

    def query(self) -> dict[str, Any] | None:
        if not self.positive and not self.negative:
            return None
        inner: dict[str, Any] = {}
        if self.positive:
            inner["filter"] = self.positive
        if self.negative:
            inner["must_not"] = self.negative
        return {"bool": inner}

    def interval(self) -> str:
        wanted = self.intent.histogram
        if wanted and wanted != "auto":
            return wanted
        span = self.intent.time
        m = re.fullmatch(r"now-(\d+)([smhdwM])", span.gte or "") if span else None
        seconds = int(m.group(1)) * _SECONDS[m.group(2)] if m else 86400
        if seconds <= 3600:
            return "1m"
        if seconds <= 6 * 3600:
            return "5m"
        if seconds <= 2 * 86400:
            return "1h"
        return "1d"

    def aggs(self) -> dict[str, Any] | None:
        levels: list[tuple[str, dict[str, Any]]] = []
        if self.intent.histogram:
            if self.time_field is None:
                self.missing.append(
                    _("a histogram over time: %(index)s has no date field")
                    % {"index": self.fields.pattern}
                )
            else:
                hist = {"field": self.time_field.name, "fixed_interval": self.interval()}
                levels.append(("over_time", {"date_histogram": hist}))
                self.parts.append(Part(_("over time"), _short({"date_histogram": hist})))
        for concept, size in self.intent.group_by:
            target = self.concept_field(concept, concept)
            if target is None:
                continue
            group: dict[str, Any] = {"field": target.name, "size": min(size, MAX_AGG_SIZE)}
            levels.append((f"by_{concept}", {"terms": group}))
            self.parts.append(
                Part(_("grouped by %(c)s") % {"c": concept}, _short({"terms": group}))
            )
        if self.intent.metric:
            kind, concept, percent = self.intent.metric
            target = self.concept_field(concept, concept)
            if target is not None:
                spec: dict[str, Any] = {"field": target.name}
                if kind == "percentiles":
                    spec["percents"] = [percent]
                levels.append((f"{kind}_{concept}", {kind: spec}))
                self.parts.append(Part(kind, _short({kind: spec})))
        if not levels:
            return None
        tree: dict[str, Any] | None = None
        for name, agg in reversed(levels):
            node = dict(agg)
            if tree is not None:
                node["aggs"] = tree
            tree = {name: node}
        return tree


def build(intent: Intent, fields: IndexFields, tz: str) -> Built | None:
    """The request for an Intent, or None when nothing in it could be built."""
    b = _Builder(intent, fields, tz)
    b.time()
    for f in intent.filters:
        b.filter(f)
    for t in intent.texts:
        b.text(t)
    query = b.query()
    aggs = b.aggs()
    if query is None and aggs is None and not intent.count and not intent.size and not intent.order:
        return None
    body: dict[str, Any] = {}
    if intent.count and aggs is None:
        if query is not None:
            body["query"] = query
        b.parts.append(Part(_("how many"), "_count"))
        return Built("_count", body, b.parts, b.missing, intent.leftover)
    if query is not None:
        body["query"] = query
    if aggs is not None:
        body["size"] = 0
        body["aggs"] = aggs
    else:
        body["size"] = min(intent.size or DEFAULT_SIZE, MAX_SIZE)
        if b.time_field is not None:
            order = intent.order or "desc"
            body["sort"] = [{b.time_field.name: {"order": order}}]
    return Built("_search", body, b.parts, b.missing, intent.leftover)
