"""When two requests ask the same thing: the evaluation's yardstick.

Two requests are equivalent when they return the same hits in the same order (or the same
count) and the same aggregation buckets, whatever the order of their clauses or the names
of their aggregations. Concretely, after normalising both:

- endpoint: `_count`, or `_search` with `size: 0` and no aggregations (both give a count);
- bool: `must` and `filter` are one AND (scores differ, hits do not); nested AND-only bools
  and single-clause bools are flattened; `should` next to must/filter without
  `minimum_should_match` is dropped (it only scores); an OR of terms on one field is `terms`;
  clause order never matters;
- term: `{f: v}` ≡ `{f: {"value": v}}`; `terms` with one value ≡ `term`; numbers compare as
  numbers (500 ≡ "500" on a numeric field is not assumed: the value's own type counts);
- range: `lte: "now"` is dropped; on whole numbers `lt: 600` ≡ `lte: 599`; `now-60m` ≡
  `now-1h`; `time_zone` counts only where the bounds round (`/d`) or name a wall-clock time;
- match on one word ≡ match_phrase on it; text compares case-insensitively;
- absent query ≡ match_all ≡ an empty bool;
- aggregations compare by type, field and parameters, defaults filled in (terms size 10,
  `fixed_interval: 60m` ≡ `1h` ≡ `calendar_interval: hour`), names ignored;
- hits: `size` (10 when absent) and `sort` (in order, `asc` when unsaid) count; `_source`,
  `track_total_hits` and `timeout` do not.
"""

from __future__ import annotations

import re
from typing import Any

Canon = Any  # nested tuples / frozensets: hashable and comparable with ==

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "H": 3600, "d": 86400, "w": 604800}
_UNIT_SECONDS |= {"M": 2592000, "y": 31536000, "q": 7776000}
_CALENDAR = {"minute": "1m", "hour": "1h", "day": "1d", "week": "1w", "month": "1M"}
_CALENDAR |= {"quarter": "1q", "year": "1y"}


def _value(v: Any) -> Canon:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, list):
        return tuple(_value(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _value(x)) for k, x in v.items()))
    return str(v)


def _date(v: Any) -> Canon:
    """`now-60m` and `now-1h` are one instant."""
    if isinstance(v, str):
        m = re.fullmatch(r"now-(\d+)(ms|[smhHdwMyq])", v.strip())
        if m:
            return ("now-", float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
        return v.strip()
    return _value(v)


def _zoned(bounds: dict[str, Any]) -> bool:
    for key in ("gte", "gt", "lte", "lt"):
        v = bounds.get(key)
        if isinstance(v, str) and ("/" in v or re.match(r"\d{4}-\d{2}-\d{2}", v)):
            return True
    return False


def _range(field: str, bounds: dict[str, Any]) -> Canon:
    out: dict[str, Any] = {}
    for key in ("gte", "gt", "lte", "lt"):
        if key not in bounds:
            continue
        v = bounds[key]
        if key == "lte" and v == "now":
            continue
        if isinstance(v, int) and not isinstance(v, bool):
            if key == "lt":
                key, v = "lte", v - 1
            elif key == "gt":
                key, v = "gte", v + 1
        out[key] = _date(v)
    extra = []
    if bounds.get("time_zone") and _zoned(bounds):
        extra.append(("time_zone", str(bounds["time_zone"])))
    if bounds.get("format"):
        extra.append(("format", str(bounds["format"])))
    return ("range", field, tuple(sorted(out.items())), tuple(extra))


def _one(body: Any) -> tuple[str, Any]:
    """(field, params) of `{field: params}`, ignoring boost and _name."""
    items = [(k, v) for k, v in body.items() if k not in ("boost", "_name")]
    return items[0] if items else ("", None)


def _leaf(clause: str, body: Any) -> Canon:
    if clause == "match_all":
        return ("all",)
    if clause == "term":
        f, p = _one(body)
        value = p.get("value") if isinstance(p, dict) else p
        ci = bool(p.get("case_insensitive")) if isinstance(p, dict) else False
        return ("term", f, _value(value), ci)
    if clause == "terms":
        f, p = _one(body)
        values = frozenset(_value(v) for v in (p or []))
        if len(values) == 1:
            return ("term", f, next(iter(values)), False)
        return ("terms", f, values)
    if clause == "range":
        f, p = _one(body)
        return _range(f, p if isinstance(p, dict) else {})
    if clause in ("match", "match_phrase"):
        f, p = _one(body)
        text = p.get("query") if isinstance(p, dict) else p
        words = " ".join(str(text).lower().split())
        operator = str(p.get("operator", "or")).lower() if isinstance(p, dict) else "or"
        if clause == "match_phrase" and " " not in words:
            clause = "match"
        if clause == "match" and " " not in words:
            operator = "or"
        return (clause, f, words, operator)
    if clause == "multi_match":
        fields = tuple(sorted(str(x) for x in body.get("fields", [])))
        text = " ".join(str(body.get("query", "")).lower().split())
        if len(fields) == 1 and "*" not in fields[0] and "^" not in fields[0]:
            kind = "match_phrase" if body.get("type") == "phrase" else "match"
            return _leaf(kind, {fields[0]: {"query": text, "operator": body.get("operator", "or")}})
        return ("multi_match", fields, text, str(body.get("type", "best_fields")))
    if clause == "exists":
        return ("exists", body.get("field"))
    if clause in ("prefix", "wildcard"):
        f, p = _one(body)
        value = p.get("value") if isinstance(p, dict) else p
        return (clause, f, str(value))
    return (clause, _value(body))


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v] if v is not None else []


def query(node: Any) -> Canon:
    """The canonical form of a query clause."""
    if node is None:
        return ("all",)
    if not isinstance(node, dict) or len(node) != 1:
        return ("?", _value(node))
    clause, body = next(iter(node.items()))
    if clause != "bool":
        return _leaf(clause, body)
    body = body if isinstance(body, dict) else {}
    positive: set[Canon] = set()
    negative: set[Canon] = set()
    for key in ("must", "filter"):
        for child in _as_list(body.get(key)):
            c = query(child)
            if c[0] == "and":
                positive |= c[1]
                negative |= c[2]
            elif c != ("all",):
                positive.add(c)
    for child in _as_list(body.get("must_not")):
        negative.add(query(child))
    should = [query(c) for c in _as_list(body.get("should"))]
    msm = body.get("minimum_should_match")
    if should and (msm is not None or not (positive or negative)):
        need = int(msm) if isinstance(msm, int) or (isinstance(msm, str) and msm.isdigit()) else 1
        if need <= 1:
            positive.add(_or(should))
        else:
            positive.add(("at_least", need, frozenset(should)))
    if not negative and len(positive) == 1:
        return next(iter(positive))
    if not positive and not negative:
        return ("all",)
    return ("and", frozenset(positive), frozenset(negative))


def _or(children: list[Canon]) -> Canon:
    """An OR: of terms on one field it is `terms`; of one clause, that clause."""
    flat: set[Canon] = set()
    for c in children:
        flat |= c[1] if c[0] == "or" else {c}
    if len(flat) == 1:
        return next(iter(flat))
    fields = {c[1] for c in flat if c[0] in ("term", "terms")}
    if len(fields) == 1 and all(
        c[0] in ("term", "terms") and not (c[0] == "term" and c[3]) for c in flat
    ):
        values: set[Canon] = set()
        for c in flat:
            values |= c[2] if c[0] == "terms" else {c[2]}
        return ("terms", next(iter(fields)), frozenset(values))
    return ("or", frozenset(flat))


def _interval(v: Any) -> Canon:
    text = _CALENDAR.get(str(v), str(v))
    m = re.fullmatch(r"(\d+)(ms|[smhHdwMyq])", text)
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m else text


def aggs(node: Any) -> Canon:
    if not isinstance(node, dict):
        return frozenset()
    out = set()
    for agg in node.values():
        if not isinstance(agg, dict):
            continue
        kinds = [k for k in agg if k not in ("aggs", "aggregations", "meta")]
        kind = kinds[0] if kinds else "?"
        params = dict(agg.get(kind) or {}) if isinstance(agg.get(kind), dict) else {}
        if kind == "terms":
            params.setdefault("size", 10)
            if params.get("min_doc_count") == 1:
                params.pop("min_doc_count")
            if params.get("order") in ({"_count": "desc"}, [{"_count": "desc"}]):
                params.pop("order")
        if kind == "date_histogram":
            for key in ("fixed_interval", "calendar_interval", "interval"):
                if key in params:
                    params["every"] = _interval(params.pop(key))
            if params.get("min_doc_count") == 0:
                params.pop("min_doc_count")
        if kind == "percentiles" and "percents" in params:
            params["percents"] = sorted(float(p) for p in params["percents"])
        if kind == "filter":
            params = {"query": query(agg.get(kind))}
        sub = agg.get("aggs", agg.get("aggregations"))
        out.add(
            (
                kind,
                _value({k: v for k, v in params.items() if k != "query"}),
                params.get("query"),
                aggs(sub),
            )
        )
    return frozenset(out)


def _sort(node: Any) -> Canon:
    out = []
    for item in _as_list(node):
        if isinstance(item, str):
            out.append((item, "desc" if item == "_score" else "asc"))
        elif isinstance(item, dict) and item:
            name, spec = next(iter(item.items()))
            order = spec.get("order", "asc") if isinstance(spec, dict) else spec
            out.append((name, str(order)))
    return tuple(out)


def request(endpoint: str, body: dict[str, Any] | None) -> Canon:
    """The canonical form of a whole request."""
    body = body or {}
    q = query(body.get("query"))
    agg_tree = aggs(body.get("aggs", body.get("aggregations")))
    if endpoint == "_count":
        return ("count", q)
    size = body.get("size", 10)
    if not agg_tree and size == 0:
        return ("count", q)
    if size == 0:
        return ("aggs", q, agg_tree)
    return ("hits", q, float(size), _sort(body.get("sort")), agg_tree)


def equivalent(a: tuple[str, dict[str, Any] | None], b: tuple[str, dict[str, Any] | None]) -> bool:
    """Whether two (endpoint, body) requests ask the same thing (see the module's rules)."""
    return request(*a) == request(*b)
