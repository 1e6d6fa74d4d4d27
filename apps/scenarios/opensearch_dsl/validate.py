"""Every query is checked against the mapping before it is shown, whoever wrote it.

Allowed: a small set of clauses (bool, term, terms, range, match, match_phrase, multi_match,
exists, prefix, wildcard, match_all) and aggregations (terms, date_histogram, histogram,
metrics, filter, filters, top_hits). Every field must exist with a type its clause reads
(match on text, term on keyword/number/date/ip, range on date/number), sizes are capped, and
no script runs anywhere. A wrong field names the closest existing one, so the fix is a copy:
"field 'status_code' not in logs-*; closest: http.response.status_code (long)".
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.opensearch_dsl.mapping import (
    CONTAINERS,
    DATE,
    EXACT,
    KEYWORD,
    NUMERIC,
    TEXT,
    Field,
    IndexFields,
)

MAX_SIZE = 500  # hits one query returns
MAX_RESULT_WINDOW = 10_000  # OpenSearch's index.max_result_window default: from + size
MAX_AGG_SIZE = 100  # buckets of one terms aggregation
MAX_TERMS = 1024
MAX_AGG_DEPTH = 3
MAX_BOOL_DEPTH = 8

SEARCH_KEYS = frozenset(
    {"query", "size", "from", "sort", "aggs", "aggregations", "_source", "track_total_hits"}
    | {"timeout"}
)
BOOL_KEYS = frozenset({"must", "filter", "should", "must_not", "minimum_should_match", "boost"})
METRICS = {
    "avg": NUMERIC,
    "sum": NUMERIC,
    "min": NUMERIC | DATE,
    "max": NUMERIC | DATE,
    "stats": NUMERIC,
    "extended_stats": NUMERIC,
    "percentiles": NUMERIC,
    "value_count": EXACT,
    "cardinality": EXACT,
}
_DATE_MATH = re.compile(
    r"^(now|\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?(?:\|\|)?)"
    r"([+-]\d+[yMwdhHms]|/[yMwdhHms])*$"
)
_INTERVAL = re.compile(r"^\d+(ms|s|m|h|d)$")
_CALENDAR = {"minute", "1m", "hour", "1h", "day", "1d", "week", "1w", "month", "1M"}
_CALENDAR |= {"quarter", "1q", "year", "1y"}


@dataclass(frozen=True)
class Problem:
    """One reason the query is refused: where in the JSON, and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class _Checker:
    def __init__(self, fields: IndexFields) -> None:
        self.fields = fields
        self.problems: list[Problem] = []

    def bad(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    # --- fields -------------------------------------------------------------------------

    def field(self, path: str, name: Any, allowed: frozenset[str], clause: str) -> Field | None:
        if not isinstance(name, str) or not name:
            self.bad(path, _("a field name is expected"))
            return None
        found = self.fields.get(name)
        if found is None:
            close = self.fields.closest(name)
            if close:
                self.bad(
                    path,
                    _("field '%(name)s' not in %(index)s; closest: %(close)s")
                    % {"name": name, "index": self.fields.pattern, "close": close[0].describe()},
                )
            else:
                self.bad(
                    path,
                    _("field '%(name)s' not in %(index)s")
                    % {"name": name, "index": self.fields.pattern},
                )
            return None
        if found.conflicting:
            others = ", ".join(sorted(found.conflicts))
            self.bad(
                path,
                _("field '%(name)s' has different types in the indices (%(a)s, %(b)s)")
                % {"name": name, "a": found.type, "b": others},
            )
            return None
        if found.nested_in:
            self.bad(
                path,
                _(
                    "field '%(name)s' is inside the nested field '%(nested)s'; it needs a nested query"
                )
                % {"name": name, "nested": found.nested_in},
            )
            return None
        if not found.searchable:
            self.bad(
                path, _("field '%(name)s' is not indexed: it cannot be searched") % {"name": name}
            )
            return None
        if found.type not in allowed:
            self.bad(path, self._wrong_type(found, clause))
            return None
        return found

    def _wrong_type(self, found: Field, clause: str) -> str:
        hint = ""
        if clause in ("term", "terms", "prefix", "wildcard", "sort", "aggregation"):
            exact = [s for s in found.sub_fields if (self.fields.get(s) or found).type in KEYWORD]
            if exact:
                hint = _("; use %(sub)s") % {"sub": exact[0]}
            elif found.type in TEXT:
                hint = _("; use match for text")
        elif clause in ("match", "match_phrase", "multi_match") and found.type in EXACT:
            hint = _("; use term for exact values")
        return _("%(clause)s on field '%(name)s' of type %(type)s is not allowed%(hint)s") % {
            "clause": clause,
            "name": found.name,
            "type": found.type,
            "hint": hint,
        }

    def value(self, path: str, found: Field, value: Any) -> None:
        """A term, terms or range value the field's type can hold."""
        if isinstance(value, dict | list) or value is None:
            self.bad(path, _("a single value is expected"))
            return
        if found.type in NUMERIC:
            try:
                float(value)
            except (TypeError, ValueError):
                self.bad(
                    path,
                    _("'%(value)s' is not a number, and %(name)s is %(type)s")
                    % {"value": value, "name": found.name, "type": found.type},
                )
        elif found.type in DATE:
            if isinstance(value, str) and not _DATE_MATH.match(value.strip()):
                self.bad(path, _("'%(value)s' is not a date or date math") % {"value": value})
        elif found.type == "ip":
            try:
                ipaddress.ip_network(str(value), strict=False)
            except ValueError:
                self.bad(path, _("'%(value)s' is not an IP address") % {"value": value})
        elif found.type == "boolean" and str(value).lower() not in ("true", "false"):
            self.bad(path, _("'%(value)s' is not true or false") % {"value": value})

    # --- queries ------------------------------------------------------------------------

    def query(self, path: str, node: Any, depth: int = 0) -> None:
        if depth > MAX_BOOL_DEPTH:
            self.bad(path, _("the query is nested too deeply"))
            return
        if not isinstance(node, dict) or len(node) != 1:
            self.bad(path, _("a query is an object with exactly one clause"))
            return
        clause, body = next(iter(node.items()))
        here = f"{path}.{clause}"
        handler = getattr(self, f"q_{clause}", None)
        if handler is None:
            self.bad(here, self._not_allowed(clause))
            return
        if clause == "bool":
            self.q_bool(here, body, depth)
        else:
            handler(here, body)

    def _not_allowed(self, clause: str) -> str:
        if "script" in clause:
            return _("scripts are not allowed")
        return _("the clause '%(clause)s' is not allowed here (allowed: %(allowed)s)") % {
            "clause": clause,
            "allowed": "bool, term, terms, range, match, match_phrase, multi_match, exists, "
            "prefix, wildcard, match_all",
        }

    def q_bool(self, path: str, body: Any, depth: int) -> None:
        if not isinstance(body, dict):
            self.bad(path, _("bool takes an object"))
            return
        for key, value in body.items():
            if key not in BOOL_KEYS:
                self.bad(f"{path}.{key}", _("bool has no '%(key)s'") % {"key": key})
            elif key in ("minimum_should_match", "boost"):
                if not isinstance(value, int | float | str):
                    self.bad(f"{path}.{key}", _("a number is expected"))
            elif isinstance(value, list):
                for n, item in enumerate(value):
                    self.query(f"{path}.{key}[{n}]", item, depth + 1)
            else:
                self.query(f"{path}.{key}", value, depth + 1)

    def _single(self, path: str, body: Any, options: set[str]) -> tuple[str, Any] | None:
        """The (field, parameters) of `{field: value}` or `{field: {value/query: ...}}`."""
        if not isinstance(body, dict):
            self.bad(path, _("an object {field: value} is expected"))
            return None
        names = [k for k in body if k not in ("boost", "_name")]
        if len(names) != 1:
            self.bad(path, _("exactly one field is expected"))
            return None
        name = names[0]
        params = body[name]
        if isinstance(params, dict):
            extra = sorted(set(params) - options)
            if extra:
                self.bad(f"{path}.{name}", _("unknown parameter '%(p)s'") % {"p": extra[0]})
        return name, params

    def q_term(self, path: str, body: Any) -> None:
        got = self._single(path, body, {"value", "boost", "case_insensitive", "_name"})
        if got is None:
            return
        name, params = got
        found = self.field(f"{path}.{name}", name, EXACT, "term")
        if found is not None:
            value = params.get("value") if isinstance(params, dict) else params
            self.value(f"{path}.{name}", found, value)

    def q_terms(self, path: str, body: Any) -> None:
        if not isinstance(body, dict):
            self.bad(path, _("an object {field: [values]} is expected"))
            return
        names = [k for k in body if k not in ("boost", "_name")]
        if len(names) != 1:
            self.bad(path, _("exactly one field is expected"))
            return
        values = body[names[0]]
        if not isinstance(values, list) or not values:
            self.bad(f"{path}.{names[0]}", _("a list of values is expected"))
            return
        if len(values) > MAX_TERMS:
            self.bad(f"{path}.{names[0]}", _("at most %(n)d values") % {"n": MAX_TERMS})
            return
        found = self.field(f"{path}.{names[0]}", names[0], EXACT, "terms")
        if found is not None:
            for n, value in enumerate(values):
                self.value(f"{path}.{names[0]}[{n}]", found, value)

    def q_range(self, path: str, body: Any) -> None:
        options = {"gte", "gt", "lte", "lt", "format", "time_zone", "boost", "relation"}
        got = self._single(path, body, options)
        if got is None:
            return
        name, params = got
        if not isinstance(params, dict) or not {"gte", "gt", "lte", "lt"} & set(params):
            self.bad(f"{path}.{name}", _("range needs gte, gt, lte or lt"))
            return
        found = self.field(f"{path}.{name}", name, DATE | NUMERIC, "range")
        if found is None:
            return
        for bound in ("gte", "gt", "lte", "lt"):
            if bound in params:
                self.value(f"{path}.{name}.{bound}", found, params[bound])

    def _text(self, path: str, body: Any, clause: str, options: set[str]) -> None:
        got = self._single(path, body, options | {"query", "boost", "analyzer", "_name"})
        if got is None:
            return
        name, params = got
        query = params.get("query") if isinstance(params, dict) else params
        if not isinstance(query, str | int | float) or not str(query).strip():
            self.bad(f"{path}.{name}", _("the text to look for is missing"))
            return
        self.field(f"{path}.{name}", name, TEXT, clause)

    def q_match(self, path: str, body: Any) -> None:
        options = {"operator", "fuzziness", "minimum_should_match", "zero_terms_query"}
        self._text(path, body, "match", options)

    def q_match_phrase(self, path: str, body: Any) -> None:
        self._text(path, body, "match_phrase", {"slop"})

    def q_multi_match(self, path: str, body: Any) -> None:
        if not isinstance(body, dict) or not str(body.get("query", "")).strip():
            self.bad(path, _("multi_match needs a query"))
            return
        allowed = {"query", "fields", "type", "operator", "minimum_should_match", "boost"}
        extra = sorted(set(body) - allowed)
        if extra:
            self.bad(path, _("unknown parameter '%(p)s'") % {"p": extra[0]})
        fields = body.get("fields")
        if not isinstance(fields, list) or not fields:
            self.bad(path, _("multi_match needs its list of fields"))
            return
        for n, raw in enumerate(fields):
            name = str(raw).split("^", 1)[0]
            if "*" in name:
                pattern = re.compile("^" + re.escape(name).replace(r"\*", ".*") + "$")
                if not any(
                    pattern.match(f.name) and f.type in TEXT for f in self.fields.queryable()
                ):
                    self.bad(
                        f"{path}.fields[{n}]", _("no text field matches '%(p)s'") % {"p": name}
                    )
            else:
                self.field(f"{path}.fields[{n}]", name, TEXT, "multi_match")

    def q_exists(self, path: str, body: Any) -> None:
        if not isinstance(body, dict) or set(body) - {"field", "boost"}:
            self.bad(path, _('exists takes {"field": name}'))
            return
        self.field(
            f"{path}.field",
            body.get("field"),
            EXACT | TEXT | CONTAINERS | {"flat_object"},
            "exists",
        )

    def _keyword_pattern(self, path: str, body: Any, clause: str) -> None:
        got = self._single(path, body, {"value", "case_insensitive", "boost", "rewrite"})
        if got is None:
            return
        name, params = got
        value = params.get("value") if isinstance(params, dict) else params
        if not isinstance(value, str) or not value:
            self.bad(f"{path}.{name}", _("a text value is expected"))
            return
        if clause == "wildcard" and value[0] in "*?":
            self.bad(
                f"{path}.{name}",
                _("a leading wildcard reads every term of the field; anchor the pattern's start"),
            )
            return
        self.field(f"{path}.{name}", name, KEYWORD, clause)

    def q_prefix(self, path: str, body: Any) -> None:
        self._keyword_pattern(path, body, "prefix")

    def q_wildcard(self, path: str, body: Any) -> None:
        self._keyword_pattern(path, body, "wildcard")

    def q_match_all(self, path: str, body: Any) -> None:
        if not isinstance(body, dict) or set(body) - {"boost"}:
            self.bad(path, _("match_all takes {}"))

    # --- the request ----------------------------------------------------------------------

    def size(self, path: str, value: Any, cap: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.bad(path, _("a whole number is expected"))
            return 0
        if value > cap:
            self.bad(path, _("%(n)d is over the cap of %(cap)d") % {"n": value, "cap": cap})
        return value

    def sort(self, path: str, node: Any) -> None:
        items = node if isinstance(node, list) else [node]
        for n, item in enumerate(items):
            here = f"{path}[{n}]" if isinstance(node, list) else path
            if isinstance(item, str):
                name, order = item, "asc"
            elif isinstance(item, dict) and len(item) == 1:
                name, spec = next(iter(item.items()))
                order = spec.get("order", "asc") if isinstance(spec, dict) else spec
                if isinstance(spec, dict) and set(spec) - {"order", "unmapped_type", "missing"}:
                    self.bad(here, _("only order, missing and unmapped_type are allowed in a sort"))
            else:
                self.bad(here, _("a sort is a field name or {field: order}"))
                continue
            if order not in ("asc", "desc"):
                self.bad(here, _("order is asc or desc"))
            if name not in ("_score", "_doc"):
                self.field(here, name, EXACT, "sort")

    def aggs(self, path: str, node: Any, depth: int = 1) -> None:
        if depth > MAX_AGG_DEPTH:
            self.bad(path, _("aggregations are nested more than %(n)d deep") % {"n": MAX_AGG_DEPTH})
            return
        if not isinstance(node, dict) or not node:
            self.bad(path, _("aggregations are an object {name: {type: ...}}"))
            return
        for name, agg in node.items():
            here = f"{path}.{name}"
            if not isinstance(agg, dict):
                self.bad(here, _("an aggregation is an object"))
                continue
            kinds = [k for k in agg if k not in ("aggs", "aggregations", "meta")]
            if len(kinds) != 1:
                self.bad(here, _("an aggregation has exactly one type"))
                continue
            kind = kinds[0]
            self.agg(f"{here}.{kind}", kind, agg[kind])
            sub = agg.get("aggs", agg.get("aggregations"))
            if sub is not None:
                self.aggs(f"{here}.aggs", sub, depth + 1)

    def agg(self, path: str, kind: str, body: Any) -> None:
        if not isinstance(body, dict):
            self.bad(path, _("an aggregation's parameters are an object"))
            return
        if "script" in body:
            self.bad(path, _("scripts are not allowed"))
            return
        if kind == "terms":
            allowed = {"field", "size", "order", "min_doc_count", "missing", "shard_size"}
            self._params(path, body, allowed)
            self.field(f"{path}.field", body.get("field"), EXACT, "aggregation")
            if "size" in body:
                self.size(f"{path}.size", body["size"], MAX_AGG_SIZE)
        elif kind == "date_histogram":
            allowed = {"field", "fixed_interval", "calendar_interval", "interval", "min_doc_count"}
            self._params(path, body, allowed | {"extended_bounds", "time_zone", "format", "order"})
            self.field(f"{path}.field", body.get("field"), DATE, "aggregation")
            fixed, calendar = body.get("fixed_interval"), body.get("calendar_interval")
            if fixed is None and calendar is None:
                self.bad(path, _("date_histogram needs fixed_interval or calendar_interval"))
            if fixed is not None and not _INTERVAL.match(str(fixed)):
                self.bad(f"{path}.fixed_interval", _("an interval like 5m, 1h or 1d is expected"))
            if calendar is not None and str(calendar) not in _CALENDAR:
                self.bad(
                    f"{path}.calendar_interval", _("a calendar unit like 1h or 1d is expected")
                )
        elif kind == "histogram":
            self._params(path, body, {"field", "interval", "min_doc_count", "extended_bounds"})
            self.field(f"{path}.field", body.get("field"), NUMERIC, "aggregation")
            if not isinstance(body.get("interval"), int | float) or body["interval"] <= 0:
                self.bad(f"{path}.interval", _("a positive interval is expected"))
        elif kind in METRICS:
            self._params(path, body, {"field", "percents", "missing", "precision_threshold"})
            self.field(f"{path}.field", body.get("field"), METRICS[kind], "aggregation")
        elif kind == "filter":
            self.query(path, body)
        elif kind == "filters":
            inner = body.get("filters")
            if not isinstance(inner, dict):
                self.bad(path, _("filters takes {filters: {name: query}}"))
            else:
                for key, query in inner.items():
                    self.query(f"{path}.filters.{key}", query)
        elif kind == "top_hits":
            self._params(path, body, {"size", "sort", "_source"})
            if "size" in body:
                self.size(f"{path}.size", body["size"], 10)
            if "sort" in body:
                self.sort(f"{path}.sort", body["sort"])
        else:
            self.bad(path, _("the aggregation '%(kind)s' is not allowed here") % {"kind": kind})

    def _params(self, path: str, body: dict[str, Any], allowed: set[str]) -> None:
        extra = sorted(set(body) - allowed)
        if extra:
            self.bad(path, _("unknown parameter '%(p)s'") % {"p": extra[0]})


def _scripts(node: Any, path: str = "") -> list[str]:
    """Paths of every `script` key, wherever it hides (a sort, a runtime field, an agg)."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if "script" in str(key).lower():
                found.append(here)
            else:
                found += _scripts(value, here)
    elif isinstance(node, list):
        for n, item in enumerate(node):
            found += _scripts(item, f"{path}[{n}]")
    return found


def check(body: Any, fields: IndexFields, endpoint: str = "_search") -> list[Problem]:
    """The reasons `body` may not be run against the pattern, or [] when it may."""
    checker = _Checker(fields)
    if not isinstance(body, dict):
        return [Problem("", _("the request body must be a JSON object"))]
    scripts = _scripts(body)
    if scripts:
        return [Problem(p, _("scripts are not allowed")) for p in scripts]
    allowed = SEARCH_KEYS if endpoint == "_search" else frozenset({"query"})
    for key in body:
        if key not in allowed:
            checker.bad(
                key,
                _("'%(key)s' is not allowed in a %(endpoint)s request")
                % {"key": key, "endpoint": endpoint},
            )
    if "query" in body:
        checker.query("query", body["query"])
    size = checker.size("size", body["size"], MAX_SIZE) if "size" in body else 10
    if "from" in body:
        start = checker.size("from", body["from"], MAX_RESULT_WINDOW)
        if start + size > MAX_RESULT_WINDOW:
            checker.bad("from", _("from + size is over %(n)d") % {"n": MAX_RESULT_WINDOW})
    if "sort" in body:
        checker.sort("sort", body["sort"])
    if "aggs" in body and "aggregations" in body:
        checker.bad("aggs", _("give aggs or aggregations, not both"))
    for key in ("aggs", "aggregations"):
        if key in body:
            checker.aggs(key, body[key])
    return checker.problems


def parse_json(text: str) -> tuple[Any, Problem | None]:
    """A query written as text (the model's, or pasted): the object, or why it is not JSON."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, Problem(
            "",
            _("not valid JSON: %(msg)s (line %(line)d, column %(col)d)")
            % {"msg": exc.msg, "line": exc.lineno, "col": exc.colno},
        )
    except RecursionError:
        return None, Problem("", _("the JSON is nested too deeply"))
