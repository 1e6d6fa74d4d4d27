"""An index pattern's fields, from the `GET <pattern>/_mapping` response.

The response has one entry per index the pattern matches ({"logs-2026.12.04": {"mappings":
{"properties": ...}}}); a pasted mapping may also be one index's `{"mappings": ...}` or a bare
`{"properties": ...}`. Fields are flattened to their dotted paths with the type a query sees:
multi-fields (`url.full.keyword`) are fields of their own, an alias has its target's type,
an object with properties is a container (only `exists` reads it), a `flat_object` accepts
any sub-path, and a field typed differently in two indices is a conflict that the validator
names rather than guesses.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError

TEXT = frozenset({"text", "match_only_text"})
KEYWORD = frozenset({"keyword", "constant_keyword", "wildcard"})
NUMERIC = frozenset(
    {
        *("long", "integer", "short", "byte", "double", "float", "half_float"),
        *("scaled_float", "unsigned_long"),
    }
)
DATE = frozenset({"date", "date_nanos"})
# Types a term query matches exactly (a text field is analysed: term on it is a classic bug).
EXACT = KEYWORD | NUMERIC | DATE | frozenset({"ip", "boolean", "version"})
# Containers: searchable only through their sub-fields.
CONTAINERS = frozenset({"object", "nested"})
MAX_FIELDS = 5000
MAX_DEPTH = 20


@dataclass
class Field:
    """One searchable path of the mapping."""

    name: str
    type: str
    # The indices that have it, when the mapping came from several.
    indices: set[str] = field(default_factory=set)
    # Other types the same path has in other indices (a conflict).
    conflicts: dict[str, set[str]] = field(default_factory=dict)
    nested_in: str = ""  # the nested container it lives in, if any
    searchable: bool = True  # "index": false or an object with "enabled": false
    alias_of: str = ""
    sub_fields: list[str] = field(default_factory=list)  # multi-fields, e.g. ["url.full.keyword"]
    parent: str = ""  # for a multi-field: the field it is a variant of

    @property
    def conflicting(self) -> bool:
        return bool(self.conflicts)

    def describe(self) -> str:
        return f"{self.name} ({self.type})"


@dataclass
class IndexFields:
    """The fields of an index pattern (merged over the indices it matches)."""

    pattern: str
    fields: dict[str, Field]
    indices: list[str]
    flat_objects: list[str] = field(default_factory=list)

    def get(self, name: str) -> Field | None:
        found = self.fields.get(name)
        if found is not None:
            return found
        for root in self.flat_objects:
            if name.startswith(root + "."):
                # Any key below a flat_object is matched as a keyword.
                return Field(name=name, type="keyword", parent=root)
        return None

    def by_type(self, *types: str) -> list[Field]:
        wanted = set(types)
        return [f for f in self.fields.values() if f.type in wanted]

    def queryable(self) -> list[Field]:
        return [f for f in self.fields.values() if f.type not in CONTAINERS and f.searchable]

    def closest(self, name: str, n: int = 1) -> list[Field]:
        """The fields a mistyped name most likely meant: the same last segment(s) first
        (`status_code` → `http.response.status_code`), then similar spelling."""
        candidates = [f for f in self.queryable() if not f.parent]
        last = name.rsplit(".", 1)[-1].lower()
        tail = [f for f in candidates if f.name.lower().endswith("." + name.lower())]
        same_last = [f for f in candidates if f.name.rsplit(".", 1)[-1].lower() == last]
        ranked: list[Field] = []
        for group in (tail, same_last):
            for f in sorted(group, key=lambda f: (len(f.name), f.name)):
                if f not in ranked:
                    ranked.append(f)
        names = {f.name: f for f in candidates}
        for close in difflib.get_close_matches(name, list(names), n=n + 2, cutoff=0.6):
            if names[close] not in ranked:
                ranked.append(names[close])
        lasts: dict[str, list[Field]] = {}
        for f in candidates:
            lasts.setdefault(f.name.rsplit(".", 1)[-1].lower(), []).append(f)
        for close in difflib.get_close_matches(last, list(lasts), n=n + 2, cutoff=0.75):
            for f in lasts[close]:
                if f not in ranked:
                    ranked.append(f)
        return ranked[:n]

    def field_list(self) -> list[dict[str, str]]:
        """What the model is given: every queryable path and its type, nothing else."""
        return [
            {"name": f.name, "type": f.type}
            for f in sorted(self.queryable(), key=lambda f: f.name)
            if not f.nested_in
        ]


def _index_mappings(data: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(index name, its mappings object) for each index of a _mapping response, or the one
    pasted mapping."""
    if not isinstance(data, dict):
        raise InputError(_("The mapping must be a JSON object."), field="text")
    if "properties" in data and isinstance(data["properties"], dict):
        yield "", data
        return
    if "mappings" in data and isinstance(data["mappings"], dict):
        yield "", data["mappings"]
        return
    if "error" in data and "status" in data:
        reason = data["error"].get("reason") if isinstance(data["error"], dict) else data["error"]
        raise InputError(
            _("This is an OpenSearch error response, not a mapping: %(reason)s")
            % {"reason": str(reason)[:300]},
            field="text",
        )
    found = False
    for index, body in data.items():
        if isinstance(body, dict) and isinstance(body.get("mappings"), dict):
            found = True
            mappings = body["mappings"]
            # Pre-7 responses nest the mapping under its type name ({"_doc": {...}}).
            if "properties" not in mappings and len(mappings) == 1:
                only = next(iter(mappings.values()))
                if isinstance(only, dict) and "properties" in only:
                    mappings = only
            yield str(index), mappings
    if not found:
        raise InputError(
            _(
                "No mapping found: paste the response of GET <index>/_mapping "
                '({"<index>": {"mappings": {"properties": ...}}}).'
            ),
            field="text",
        )


def _walk(
    properties: Mapping[str, Any],
    prefix: str,
    nested_in: str,
    searchable: bool,
    depth: int,
) -> Iterator[Field]:
    if depth > MAX_DEPTH:
        raise InputError(
            _("The mapping is nested more than %(n)d levels deep.") % {"n": MAX_DEPTH},
            field="text",
        )
    for key, spec in properties.items():
        if not isinstance(spec, dict):
            continue
        name = f"{prefix}{key}"
        kind = str(spec.get("type") or ("object" if "properties" in spec else "object"))
        enabled = searchable and spec.get("enabled", True) is not False
        indexed = enabled and spec.get("index", True) is not False
        if kind == "alias":
            yield Field(name=name, type="alias", alias_of=str(spec.get("path", "")))
            continue
        inner_nested = name if kind == "nested" else nested_in
        current = Field(name=name, type=kind, nested_in=nested_in, searchable=indexed)
        subs = spec.get("fields")
        if isinstance(subs, dict):
            for sub, sub_spec in subs.items():
                if isinstance(sub_spec, dict) and sub_spec.get("type"):
                    current.sub_fields.append(f"{name}.{sub}")
                    yield Field(
                        name=f"{name}.{sub}",
                        type=str(sub_spec["type"]),
                        nested_in=nested_in,
                        searchable=indexed and sub_spec.get("index", True) is not False,
                        parent=name,
                    )
        yield current
        inner = spec.get("properties")
        if isinstance(inner, dict):
            yield from _walk(inner, name + ".", inner_nested, enabled, depth + 1)


def parse(text: str, pattern: str = "") -> IndexFields:
    """The fields of a pasted or fetched `_mapping` response. Raises InputError naming the
    line of a JSON syntax error, or saying what the JSON is instead of a mapping."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            _("The mapping is not valid JSON: %(msg)s (column %(col)d).")
            % {"msg": exc.msg, "col": exc.colno},
            line=exc.lineno,
            field="text",
        ) from None
    except RecursionError:
        raise InputError(_("The mapping is nested too deeply to read."), field="text") from None
    fields: dict[str, Field] = {}
    indices: list[str] = []
    flat: list[str] = []
    for index, mappings in _index_mappings(data):
        if index:
            indices.append(index)
        properties = mappings.get("properties")
        if not isinstance(properties, dict):
            continue
        for f in _walk(properties, "", "", True, 0):
            if len(fields) >= MAX_FIELDS:
                raise InputError(
                    _("The mapping has more than %(n)d fields.") % {"n": MAX_FIELDS},
                    field="text",
                )
            if f.type == "flat_object" and f.name not in flat:
                flat.append(f.name)
            seen = fields.get(f.name)
            if seen is None:
                if index:
                    f.indices.add(index)
                fields[f.name] = f
                continue
            if index:
                seen.indices.add(index)
            if seen.type != f.type:
                seen.conflicts.setdefault(f.type, set()).add(index or "?")
    _resolve_aliases(fields)
    if not fields:
        raise InputError(_("The mapping has no fields."), field="text")
    name = pattern or (indices[0] if len(indices) == 1 else ",".join(indices[:3]))
    return IndexFields(pattern=name or "index", fields=fields, indices=indices, flat_objects=flat)


def _resolve_aliases(fields: dict[str, Field]) -> None:
    for f in list(fields.values()):
        if f.type != "alias":
            continue
        target = fields.get(f.alias_of)
        if target is None or target.type == "alias":
            f.searchable = False
            f.type = "alias"
            continue
        f.type = target.type
        f.searchable = target.searchable


def from_field_list(
    items: list[dict[str, str]], pattern: str, conflicts: list[str] | tuple[str, ...] = ()
) -> IndexFields:
    """The fields as a stored run keeps them (facts["fields"]): enough to check a query the
    model wrote for that run without the mapping itself."""
    fields: dict[str, Field] = {}
    flat: list[str] = []
    for item in items:
        name, kind = str(item.get("name", "")), str(item.get("type", ""))
        if not name or not kind:
            continue
        f = Field(name=name, type=kind)
        if name in conflicts:
            f.conflicts["?"] = {"?"}
        if kind == "flat_object":
            flat.append(name)
        fields[name] = f
    for name, f in fields.items():
        head = name.rsplit(".", 1)[0]
        if head in fields and fields[head].type not in CONTAINERS and head != name:
            f.parent = head
            fields[head].sub_fields.append(name)
    return IndexFields(pattern=pattern, fields=fields, indices=[], flat_objects=flat)
