"""The service catalog: Backstage's catalog-info.yaml (one or many documents) read into
entities and the edges between them, every one with the line it came from.

    apiVersion: backstage.io/v1alpha1
    kind: Component            # Component, Resource, System, API (Group, User, Domain and
    metadata:                  # Location are read for owners or skipped)
      name: payments
    spec:
      owner: team-payments     # group:default/team-payments is the same owner
      system: checkout
      dependsOn: [resource:payments-db, component:ledger]
      providesApis: [payments-api]
      consumesApis: [ledger-api]

Entity references are `[kind:][namespace/]name`, compared without case as Backstage does;
dependsOn names its kind, providesApis/consumesApis default to API, owner to Group, system to
System. The YAML goes through the engine's guard first (alias bombs, deep nesting) and every
refusal names the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.engine import yamlsafe as y
from apps.scenarios.engine.base import InputError

MAX_ENTITIES = 5000
GRAPH_KINDS = ("component", "resource", "system", "api")
OTHER_KINDS = ("group", "user", "domain", "location", "template")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Ref:
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}"

    def short(self) -> str:
        """How a person writes it: the kind unless it is a component, the namespace unless
        default."""
        ns = "" if self.namespace == "default" else f"{self.namespace}/"
        kind = "" if self.kind == "component" else f"{self.kind}:"
        return f"{kind}{ns}{self.name}"


def parse_ref(raw: str, default_kind: str, default_namespace: str = "default") -> Ref | None:
    text = raw.strip()
    kind = default_kind
    if ":" in text:
        kind, text = text.split(":", 1)
    namespace = default_namespace
    if "/" in text:
        namespace, text = text.split("/", 1)
    if not kind or not namespace or not _NAME.match(text):
        return None
    return Ref(kind.lower(), namespace.lower(), text.lower())


@dataclass
class Entity:
    ref: Ref
    name: str  # as written
    line: int
    title: str = ""
    description: str = ""
    type: str = ""
    lifecycle: str = ""
    owner: Ref | None = None
    system: Ref | None = None
    depends_on: list[tuple[Ref, int]] = field(default_factory=list)
    provides_apis: list[tuple[Ref, int]] = field(default_factory=list)
    consumes_apis: list[tuple[Ref, int]] = field(default_factory=list)
    has_part: list[Ref] = field(default_factory=list)  # a System's members, filled later
    email: str = ""  # a Group's or User's spec.profile.email
    members: list[str] = field(default_factory=list)  # a Group's spec.members

    @property
    def kind(self) -> str:
        return self.ref.kind


@dataclass
class Problem:
    """Something in the catalog that is wrong or surprising; becomes a finding."""

    rule: str
    message: str
    line: int | None
    evidence: str = ""
    severity: str = "warning"


@dataclass
class Catalog:
    entities: dict[str, Entity]  # by Ref.key
    problems: list[Problem]
    skipped: dict[str, int]  # kinds read but not drawn (Location, Domain…) → count

    def by_name(self, name: str) -> Entity | None:
        """An entity named so: a full reference, or a bare name (component first, then
        resource, system, API)."""
        text = name.strip()
        if ":" in text or "/" in text:
            ref = parse_ref(text, "component")
            return self.entities.get(ref.key) if ref else None
        lowered = text.lower()
        for kind in GRAPH_KINDS:
            for entity in self.entities.values():
                if entity.kind == kind and entity.ref.name == lowered:
                    return entity
        return None

    def names(self) -> list[str]:
        return sorted({e.ref.name for e in self.entities.values() if e.kind in GRAPH_KINDS})

    def owner_of(self, entity: Entity) -> Entity | None:
        return self.entities.get(entity.owner.key) if entity.owner else None


def _refs(
    node: yaml.Node | None, default_kind: str, namespace: str, what: str, problems: list[Problem]
) -> list[tuple[Ref, int]]:
    out: list[tuple[Ref, int]] = []
    if node is None:
        return out
    if not y.is_seq(node):
        problems.append(
            Problem(
                "catalog.not-a-list",
                _("%(field)s is not a list of entity references") % {"field": what},
                y.line_of(node),
                severity="error",
            )
        )
        return out
    for item in y.seq(node):
        raw = y.text(item)
        ref = parse_ref(raw, default_kind, namespace) if raw else None
        if ref is None:
            problems.append(
                Problem(
                    "catalog.bad-reference",
                    _("%(field)s: '%(ref)s' is not an entity reference ([kind:][namespace/]name)")
                    % {"field": what, "ref": (raw or "")[:80]},
                    y.line_of(item),
                    severity="error",
                )
            )
            continue
        out.append((ref, y.line_of(item)))
    return out


def _one_ref(node: yaml.Node | None, default_kind: str, namespace: str) -> Ref | None:
    raw = y.text(node)
    return parse_ref(raw, default_kind, namespace) if raw else None


def parse(text: str) -> Catalog:
    """Every entity of the YAML documents. Raises InputError when the text is not YAML, is
    refused by the guard, or has no Backstage entity at all."""
    docs = y.load(text)
    entities: dict[str, Entity] = {}
    problems: list[Problem] = []
    skipped: dict[str, int] = {}
    seen_any = False
    for doc in docs:
        line = y.line_of(doc)
        if not y.is_map(doc):
            problems.append(
                Problem(
                    "catalog.not-an-entity",
                    _("this YAML document is not a mapping, so not a catalog entity"),
                    line,
                )
            )
            continue
        api_version = y.text(y.get(doc, "apiVersion")) or ""
        kind_raw = y.text(y.get(doc, "kind")) or ""
        if not api_version.startswith("backstage.io/") or not kind_raw:
            problems.append(
                Problem(
                    "catalog.not-an-entity",
                    _(
                        "this YAML document is not a Backstage entity (apiVersion "
                        "backstage.io/v1alpha1 and a kind); it is skipped"
                    ),
                    line,
                    evidence=f"apiVersion: {api_version[:60]}  kind: {kind_raw[:40]}",
                )
            )
            continue
        seen_any = True
        kind = kind_raw.lower()
        if kind not in GRAPH_KINDS and kind not in OTHER_KINDS:
            problems.append(
                Problem(
                    "catalog.unknown-kind",
                    _("kind %(kind)s is not a Backstage kind the portal reads; it is skipped")
                    % {"kind": kind_raw[:40]},
                    y.line_of(y.get(doc, "kind") or doc),
                )
            )
            continue
        meta = y.get(doc, "metadata")
        name_node = y.get(meta, "name")
        name = (y.text(name_node) or "").strip()
        if not name or not _NAME.match(name):
            raise InputError(
                _(
                    "a %(kind)s without a valid metadata.name (letters, digits, - _ ., at most "
                    "63 characters)"
                )
                % {"kind": kind_raw[:40]},
                line=y.line_of(name_node or meta or doc),
                field="text",
            )
        namespace = (y.text(y.get(meta, "namespace")) or "default").strip().lower() or "default"
        ref = Ref(kind, namespace, name.lower())
        if kind in ("location", "domain", "template"):
            skipped[kind_raw] = skipped.get(kind_raw, 0) + 1
        spec = y.get(doc, "spec")
        entity = Entity(
            ref=ref,
            name=name,
            line=line,
            title=(y.text(y.get(meta, "title")) or "")[:200],
            description=(y.text(y.get(meta, "description")) or "")[:500],
            type=(y.text(y.get(spec, "type")) or "")[:60],
            lifecycle=(y.text(y.get(spec, "lifecycle")) or "")[:60],
            owner=_one_ref(y.get(spec, "owner"), "group", namespace),
            system=_one_ref(y.get(spec, "system"), "system", namespace),
        )
        entity.depends_on = _refs(
            y.get(spec, "dependsOn"), "component", namespace, "spec.dependsOn", problems
        )
        entity.provides_apis = _refs(
            y.get(spec, "providesApis"), "api", namespace, "spec.providesApis", problems
        )
        entity.consumes_apis = _refs(
            y.get(spec, "consumesApis"), "api", namespace, "spec.consumesApis", problems
        )
        profile = y.get(spec, "profile")
        entity.email = (y.text(y.get(profile, "email")) or "")[:200]
        entity.members = [m for m in (y.text(n) for n in y.seq(y.get(spec, "members"))) if m][:50]
        if ref.key in entities:
            problems.append(
                Problem(
                    "catalog.duplicate",
                    _("%(ref)s is defined twice (first on line %(first)d)")
                    % {"ref": ref.short(), "first": entities[ref.key].line},
                    line,
                    severity="error",
                )
            )
            continue
        entities[ref.key] = entity
        if len(entities) > MAX_ENTITIES:
            raise InputError(
                _("the catalog has more than %(n)d entities; split it by system")
                % {"n": MAX_ENTITIES},
                line=line,
                field="text",
            )
    if not seen_any:
        first = y.line_of(docs[0]) if docs else 1
        raise InputError(
            _(
                "this is not a service catalog: no document is a Backstage entity "
                "(apiVersion: backstage.io/v1alpha1, kind: Component, System, Resource or API)"
            ),
            line=first,
            field="text",
        )
    _check(entities, problems)
    return Catalog(entities, problems, skipped)


def _check(entities: dict[str, Entity], problems: list[Problem]) -> None:
    """References to entities the catalog does not have, owners missing; Systems' parts."""
    for entity in entities.values():
        if entity.system and entity.system.key in entities:
            entities[entity.system.key].has_part.append(entity.ref)
        if entity.kind not in GRAPH_KINDS:
            continue
        if entity.kind != "api" and entity.owner is None:
            problems.append(
                Problem(
                    "catalog.no-owner",
                    _("%(ref)s has no spec.owner: nobody would be told about a change to it")
                    % {"ref": entity.ref.short()},
                    entity.line,
                )
            )
        for field_name, refs in (
            ("spec.dependsOn", entity.depends_on),
            ("spec.consumesApis", entity.consumes_apis),
            ("spec.providesApis", entity.provides_apis),
        ):
            for ref, line in refs:
                if ref.key not in entities:
                    problems.append(
                        Problem(
                            "catalog.missing-entity",
                            _("%(ref)s in %(field)s of %(entity)s is not in the catalog")
                            % {
                                "ref": ref.short(),
                                "field": field_name,
                                "entity": entity.ref.short(),
                            },
                            line,
                            # A dependency nobody can look up is a hole in the blast radius;
                            # an API only provided is one nobody declared yet.
                            severity="warning" if field_name == "spec.providesApis" else "error",
                        )
                    )
